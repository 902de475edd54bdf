/**
 * `npm run demo`: the main job on one machine. A CA, a hub and three city nodes as separate
 * processes on loopback (each its own SQLite file); enrolment with one-time tokens; sample records;
 * the exchange; a province-wide query; a withdrawal propagating; a revocation cutting a node off;
 * every audit log exported and verified offline; a summary on stdout and in DIR/summary.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { credit } from './processes.js';
import { Federation, waitFor, type NodeSpec } from './federation.js';
import { sampleRecord, sampleSet } from './sample-data.js';

export const DEMO_NODES: NodeSpec[] = [
  { id: '430100', name: '长沙市', grade: 3 },
  { id: '430700', name: '常德市', grade: 2 },
  { id: '430181', name: '浏阳市', grade: 3 },
];

export interface DemoOptions {
  out: string;
  keep: boolean;
  /** Ordinary records per node besides the featured subject's five. */
  recordsPerNode?: number;
  log: (line: string) => void;
}

interface ExchangeStatus {
  outbox: { pending: number };
  batches: { accepted: number; refused: number; pending: number };
  lastError?: { loop: string; code: string; message: string } | null;
  inbox: { cursor: number; applied: number };
}

interface SubjectAnswer {
  records: { id: string; classification: string; sourceNode: string; status: string }[];
  withheld: { classification: string; code: string; count?: number }[];
}

export async function runDemo(o: DemoOptions): Promise<Record<string, unknown>> {
  const t0 = Date.now();
  const step = (text: string) => o.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${text}`);
  const fed = new Federation(o.out, { nodeHubConfig: { pollIntervalMs: 300, batchMaxAgeMs: 200, checkpointIntervalMs: 2000 } });
  const summary: Record<string, unknown> = { out: o.out, nodes: {} };
  try {
    step(`provincial CA in ${fed.caDir}`);
    await fed.init();
    const hub = await fed.startHub();
    step(`hub 430000 listening at ${hub.url} (mutual TLS)`);
    for (const spec of DEMO_NODES) {
      await fed.enrolNode(spec);
      await fed.startNode(spec.id);
      step(`node ${spec.id} ${spec.name} (grade ${spec.grade}) enrolled with a one-time token, listening at ${fed.node(spec.id).process!.url}`);
    }

    const sets = new Map(DEMO_NODES.map((n) => [n.id, sampleSet(n.id, o.recordsPerNode ?? 60)]));
    const created = new Map<string, string[]>();
    for (const n of DEMO_NODES) {
      const res = await fed.api<{ accepted: number; records: { id: string }[] }>(n.id, 'POST', '/v1/records', sets.get(n.id)!.records);
      if (res.status !== 201) throw new Error(`loading records into ${n.id} failed: ${res.status} ${JSON.stringify(res.body)}`);
      created.set(n.id, res.body.records.map((r) => r.id));
      step(`node ${n.id}: ${res.body.accepted} sample records stored (one of them internal, one restricted)`);
    }

    for (const n of DEMO_NODES) {
      const s = await waitFor(`node ${n.id}'s outbox to drain`, async () => {
        const r = await fed.api<ExchangeStatus>(n.id, 'GET', '/v1/exchange/status');
        return r.status === 200 && r.body.outbox.pending === 0 && r.body.batches.pending === 0 ? r.body : undefined;
      });
      (summary.nodes as Record<string, unknown>)[n.id] = { sent: s.batches };
      step(`node ${n.id}: outbox drained, ${s.batches.accepted} batch(es) acknowledged with signed receipts`);
    }

    const changsha = sets.get('430100')!.featured;
    const seenInChangde = await waitFor('常德 to receive 长沙 records', async () => {
      const r = await fed.api<SubjectAnswer>('430700', 'GET', `/v1/subjects/${changsha}`);
      return r.status === 200 && r.body.records.some((x) => x.sourceNode === '430100') ? r.body : undefined;
    });
    const classesInChangde = [...new Set(seenInChangde.records.map((r) => r.classification))].sort();
    step(`常德 (grade 2) now holds ${seenInChangde.records.length} record(s) about a 长沙 subject, classes ${classesInChangde.join(', ')} (no restricted, no internal)`);
    summary.distribution = { changdeHolds: seenInChangde.records.length, classes: classesInChangde };

    const q = await fed.api<SubjectAnswer>('430181', 'GET', `/v1/subjects/${changsha}?scope=province&purpose=${encodeURIComponent('行政审批 示例-2026-001')}`);
    if (q.status !== 200) throw new Error(`province query failed: ${q.status} ${JSON.stringify(q.body)}`);
    const qClasses = q.body.records.map((r) => r.classification).sort();
    step(`浏阳 asked the hub about the 长沙 subject (purpose stated): ${q.body.records.length} record(s) released [${qClasses.join(', ')}], withheld ${JSON.stringify(q.body.withheld)}`);
    summary.query = { from: '430181', released: q.body.records.length, classes: qClasses, withheld: q.body.withheld };

    const target = created.get('430100')![1]!; // the featured subject's public CF
    const w = await fed.api('430100', 'POST', `/v1/records/${target}/withdraw`, { reason: 'correction', note: '示例：更正' });
    if (w.status !== 200) throw new Error(`withdrawal failed: ${w.status} ${JSON.stringify(w.body)}`);
    step(`长沙 withdrew record ${target} (correction)`);
    await waitFor('the withdrawal to reach 常德', async () => {
      const r = await fed.api<SubjectAnswer>('430700', 'GET', `/v1/subjects/${changsha}`);
      return r.status === 200 && !r.body.records.some((x) => x.id === target) ? true : undefined;
    });
    step('常德 no longer shows it');
    summary.withdrawal = { record: target, goneAtChangde: true };

    const rv = await credit(['hub', 'revoke', '--config', fed.hubConfigFile, '--node', '430700']);
    if (rv.code !== 0) throw new Error(`hub revoke failed: ${rv.stderr}`);
    step('hub operator revoked 常德 (430700)');
    const extra = sampleRecord('XK', { nodeId: '430700', uscc: sets.get('430700')!.featured, serial: 9001 });
    const added = await fed.api('430700', 'POST', '/v1/records', [extra]);
    if (added.status !== 201) throw new Error(`adding a record at 常德 failed: ${added.status} ${JSON.stringify(added.body)}`);
    const refused = await waitFor("常德's next batch to be refused", async () => {
      const r = await fed.api<ExchangeStatus>('430700', 'GET', '/v1/exchange/status');
      return r.body.lastError?.loop === 'sender' && r.body.lastError.code ? r.body.lastError : undefined;
    });
    step(`常德 stored a new record; its next batch was refused by the hub: ${refused.code}`);
    summary.revocation = { node: '430700', refusedWith: refused.code };

    const auditDir = join(o.out, 'audit');
    mkdirSync(auditDir, { recursive: true });
    const verified: Record<string, string> = {};
    const stores: [string, string, string, string][] = [
      ['430000', join(fed.hubDir, 'data', 'hub.sqlite'), join(fed.hubDir, 'data', 'hub.key'), join(fed.hubDir, 'data', 'hub.pem')],
      ...DEMO_NODES.map((n): [string, string, string, string] => {
        const d = fed.node(n.id).dir;
        return [n.id, join(d, 'data', 'node.sqlite'), join(d, 'data', 'exchange', 'node.key'), join(d, 'data', 'exchange', 'node.pem')];
      }),
    ];
    for (const [id, db, key, cert] of stores) {
      const file = join(auditDir, `${id}.ndjson`);
      const ex = await credit(['audit', 'export', '--db', db, '--out', file, '--key', key, '--cert', cert]);
      if (ex.code !== 0) throw new Error(`audit export of ${id} failed: ${ex.stderr}`);
      const v = await credit(['audit', 'verify', file, '--ca', fed.caCertFile]);
      if (v.code !== 0) throw new Error(`audit log of ${id} does not verify: ${v.stdout}${v.stderr}`);
      verified[id] = v.stdout.trim().split('\n').pop()!;
      step(`audit log ${id} exported to ${file} and verified: ${verified[id]}`);
    }
    summary.audit = verified;
    summary.caCert = fed.caCertFile;
    summary.seconds = Math.round((Date.now() - t0) / 100) / 10;
    writeFileSync(join(o.out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    o.log(renderSummary(summary, DEMO_NODES));
    step(`summary written to ${join(o.out, 'summary.json')}; CA certificate at ${fed.caCertFile}`);

    if (o.keep) {
      o.log('\nThe federation keeps running (Ctrl-C stops it). Try:');
      o.log(`  hub:  ${fed.hubUrl}  (mutual TLS; CA certificate ${fed.caCertFile})`);
      for (const n of DEMO_NODES) {
        const h = fed.node(n.id);
        o.log(`  ${n.id} ${n.name}: curl -H 'authorization: Bearer ${h.token}' ${h.process!.url}/v1/subjects/${sets.get(n.id)!.featured}`);
      }
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
    }
    return summary;
  } finally {
    await fed.close();
  }
}

/** The closing summary as a few readable lines. */
export function renderSummary(s: Record<string, unknown>, nodes: NodeSpec[]): string {
  const q = s.query as { released: number; classes: string[]; withheld: unknown[] };
  const d = s.distribution as { changdeHolds: number; classes: string[] };
  const sent = s.nodes as Record<string, { sent: { accepted: number } }>;
  const audit = s.audit as Record<string, string>;
  const lines = [
    '',
    '──── summary ────',
    ...nodes.map((n) => `  ${n.id} ${n.name}  grade ${n.grade}  batches acknowledged ${sent[n.id]?.sent.accepted ?? 0}`),
    `  distribution   常德 (grade 2) received a 长沙 subject's ${d.classes.join(' + ')} records (${d.changdeHolds}); restricted and internal stayed home`,
    `  query          浏阳 → hub: ${q.released} record(s) released [${q.classes.join(', ')}], ${q.withheld.length} class(es) withheld`,
    `  withdrawal     ${(s.withdrawal as { record: string }).record} withdrawn at 长沙, gone at 常德`,
    `  revocation     常德 revoked; its next batch refused with ${(s.revocation as { refusedWith: string }).refusedWith}`,
    ...Object.entries(audit).map(([id, line]) => `  audit ${id}   ${line.replace(/, root [0-9a-f]+ at tree size \d+/, '')}`),
    `  took ${String(s.seconds)} s`,
    '',
  ];
  return lines.join('\n');
}
