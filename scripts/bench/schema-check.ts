/**
 * Schema checking of a 1,000-record batch payload (BATCH_SCHEMA, what the hub checks every batch
 * against after opening it), side by side: protocol/schema-check.ts (Ajv, allErrors, compiled on
 * first use, problems rewritten as fields and messages) and the hand-written checker it replaced
 * (schema-hand-written.ts, compiled into closures). Once on a valid batch, once on a batch with
 * 1% bad records (3 problems each), in records/s; plus each one's first-use (compile) time.
 */
import { checkSchema, type JsonSchema } from '../../protocol/schema-check.js';
import { BATCH_SCHEMA } from '../../protocol/exchange.js';
import { checkSchemaHandWritten } from './schema-hand-written.js';
import { median, medianRate, type BenchResult, type Scenario } from './scenario.js';

/** A batch payload of `n` wire records as a node sends them (≈ 330 bytes each); every 100th one bad when `bad`. */
export function wireBatch(n = 1000, bad = false): { records: object[]; withdrawals: object[] } {
  const at = '2026-03-15T08:00:00.000+08:00';
  const records = Array.from({ length: n }, (_, i) => {
    const r: Record<string, unknown> = {
      id: `0190a1b2-c3d4-7e5f-8a9b-${String(i).padStart(12, '0')}`,
      type: 'CF',
      classification: 'public',
      catalogVersion: '2026.1',
      fields: { subject: `长沙市示例商贸有限公司${i % 97}`, uscc: '91430100MA4L' + String(100000 + i).slice(-6), decisionNo: `长市监处罚〔2026〕${1000 + i}号`, decisionDate: '2026-03-15', authority: '长沙市市场监督管理局', content: '罚款五万元', amount: 50000 },
      createdAt: at,
      updatedAt: at,
      sourceNode: '430100',
      version: 1,
    };
    if (bad && i % 100 === 7) Object.assign(r, { classification: 'secret', version: 1.5, extra: true });
    return r;
  });
  return { records, withdrawals: [] };
}

/** Milliseconds for the first check with a schema object never seen before (the compile included). */
function firstUse(check: (s: JsonSchema, v: unknown) => unknown, payload: unknown): number {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const fresh = structuredClone(BATCH_SCHEMA);
    const t0 = process.hrtime.bigint();
    check(fresh, payload);
    check(fresh, payload); // the hand-written checker compiles on the second use
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(times);
}

export const schemaCheckScenario: Scenario = {
  name: 'schema-check',
  async run({ quick, log }): Promise<BenchResult[]> {
    const repeats = quick ? 7 : 25;
    const perRun = 20; // batches a run
    const valid = wireBatch();
    const bad = wireBatch(1000, true);
    const ajvProblems = checkSchema(BATCH_SCHEMA, bad).length;
    const handProblems = checkSchemaHandWritten(BATCH_SCHEMA, bad).length;
    checkSchemaHandWritten(BATCH_SCHEMA, bad);
    if (checkSchema(BATCH_SCHEMA, valid).length + checkSchemaHandWritten(BATCH_SCHEMA, valid).length !== 0) throw new Error('the valid batch has problems');
    if (ajvProblems !== 30 || handProblems !== 30) throw new Error(`the bad batch should have 30 problems (Ajv ${ajvProblems}, hand-written ${handProblems})`);
    log(`batch: 1,000 wire records (BATCH_SCHEMA), ${perRun} batches a run, ${repeats} runs each; bad batch: 10 records with 3 problems each`);
    const rate = (check: typeof checkSchema, payload: unknown) => medianRate(repeats, 1000 * perRun, () => {
      for (let i = 0; i < perRun; i++) check(BATCH_SCHEMA, payload);
    });
    for (let w = 0; w < 3; w++) { await rate(checkSchema, valid); await rate(checkSchemaHandWritten, valid); } // warm the JIT
    const ajvValid = await rate(checkSchema, valid);
    const handValid = await rate(checkSchemaHandWritten, valid);
    const ajvBad = await rate(checkSchema, bad);
    const handBad = await rate(checkSchemaHandWritten, bad);
    const ajvFirst = firstUse(checkSchema, valid);
    const handFirst = firstUse(checkSchemaHandWritten, valid);
    return [
      { label: 'schema check, valid 1,000-record batch: Ajv (protocol/schema-check.ts)', key: 'schema_ajv_rps', value: ajvValid, unit: 'records/s', note: 'allErrors, compiled once' },
      { label: 'schema check, valid 1,000-record batch: hand-written (replaced)', key: 'schema_hand_rps', value: handValid, unit: 'records/s', note: 'closures, compiled once' },
      { label: 'Ajv vs hand-written, valid batch', key: 'schema_ajv_vs_hand', value: ajvValid / handValid, unit: '× hand-written' },
      { label: 'schema check, 1% bad records: Ajv', key: 'schema_ajv_bad_rps', value: ajvBad, unit: 'records/s', note: '30 problems rewritten as fields and messages' },
      { label: 'schema check, 1% bad records: hand-written', key: 'schema_hand_bad_rps', value: handBad, unit: 'records/s' },
      { label: 'first use of a schema (compile + 2 checks): Ajv', key: 'schema_ajv_first_ms', value: ajvFirst, unit: 'ms' },
      { label: 'first use of a schema (compile + 2 checks): hand-written', key: 'schema_hand_first_ms', value: handFirst, unit: 'ms' },
    ];
  },
};
