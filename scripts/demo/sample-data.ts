/**
 * Generated sample records for the demo and the end-to-end tests: every subject and authority USCC
 * is synthetic (valid check digit, random organisation code) and every name says 示例.
 */
import { exampleRecord, type CreditRecordInput } from '../../protocol/catalog.js';
import type { Classification } from '../../protocol/classification.js';
import { randomUscc, seededRng } from '../../protocol/identifiers.js';

const TYPES = ['XK', 'CF', 'XK', 'SXJL', 'SXBZX'] as const;

/** One record of `type` about `uscc`, unique by `serial` within the node. */
export function sampleRecord(type: string, o: { nodeId: string; uscc: string; serial: number; classification?: Classification }): CreditRecordInput {
  const base = exampleRecord(type);
  const fields: Record<string, unknown> = { ...base.fields, subjectName: `示例企业${o.serial}号`, decisionNo: `${o.nodeId}-示例〔2026〕${o.serial}号` };
  if ('uscc' in fields) fields.uscc = o.uscc;
  return { type, fields, ...(o.classification ? { classification: o.classification } : {}) } as CreditRecordInput;
}

export interface SampleSet {
  /** Records for POST /v1/records. */
  records: CreditRecordInput[];
  /** The subject the demo follows across the province. */
  featured: string;
}

/**
 * `count` ordinary records about random subjects of `nodeId`'s division, plus five about one
 * featured subject: XK and CF (public), SXBZX (shared), a CF raised to restricted, and an XK
 * kept internal (it must never leave the node).
 */
export function sampleSet(nodeId: string, count: number, seed = Number(nodeId)): SampleSet {
  const rng = seededRng(seed);
  const base = (seed % 1000) * 100_000; // decision numbers differ between seeds, so sets never collide
  const featured = randomUscc(rng, { division: nodeId });
  const records: CreditRecordInput[] = [
    sampleRecord('XK', { nodeId, uscc: featured, serial: base + 1 }),
    sampleRecord('CF', { nodeId, uscc: featured, serial: base + 2 }),
    sampleRecord('SXBZX', { nodeId, uscc: featured, serial: base + 3 }),
    sampleRecord('CF', { nodeId, uscc: featured, serial: base + 4, classification: 'restricted' }),
    sampleRecord('XK', { nodeId, uscc: featured, serial: base + 5, classification: 'internal' }),
  ];
  for (let i = 0; i < count; i++) {
    records.push(sampleRecord(TYPES[i % TYPES.length]!, { nodeId, uscc: randomUscc(rng, { division: nodeId }), serial: base + 100 + i }));
  }
  return { records, featured };
}
