/**
 * Quality indicators at province scale (issue 19): 1,000,000 hub records (100,000 with --quick)
 * pushed through the hub's per-batch quality step (recordBatchQuality: kept rejections, counters,
 * duplicate / name / correction indexes) in batches of 1,000 from 136 nodes, 6 types, 12 months,
 * 5 % rejected; then the province report (every node, unit, type; ranking; interconnection) for one
 * month and for all months, read from the aggregates. The target: the report in < 10 s.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { exampleRecord } from '../../protocol/catalog.js';
import { HUNAN_EXPECTED_NODES } from '../../protocol/expected-nodes.js';
import { migrateHub } from '../../hub/migrations.js';
import { recordBatchQuality } from '../../hub/quality-intake.js';
import { provinceQuality } from '../../hub/quality-service.js';
import { closeStore, openStore, storeTarget } from './bench-store.js';
import { median, type BenchResult, type Scenario } from './scenario.js';

const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;
const TYPES = ['XK', 'CF', 'YZSX', 'SXBZX', 'SXJL', 'NSXY_A'];
const UNITS = ['1243010000000X019K', '11430100MB1234567X', '11430700MB7654321A'];

export const qualityScenario: Scenario = {
  name: 'quality',
  async run({ quick, log }): Promise<BenchResult[]> {
    const n = quick ? 100_000 : 1_000_000;
    const per = 1000;
    const dir = mkdtempSync(`${tmpdir()}/cf-bench-quality-`);
    const target = storeTarget(dir, 'quality');
    const db = await openStore(target);
    try {
      await migrateHub(db);
      const nodes = HUNAN_EXPECTED_NODES.map((x) => x.code);
      const base = TYPES.map((t) => exampleRecord(t).fields);
      log(`${n.toLocaleString('en-US')} records through recordBatchQuality in batches of ${per} (${target.engine})`);
      const t0 = process.hrtime.bigint();
      for (let b = 0; b < n / per; b++) {
        const node = nodes[b % nodes.length]!;
        const month = String((b % 12) + 1).padStart(2, '0');
        const receivedAt = `2026-${month}-15T02:00:00.000Z`;
        const accepted: { id: string; type: string; fields: Record<string, unknown>; first: boolean }[] = [];
        const rejected: { id: string; code: string; field: string; codes: string[] }[] = [];
        const items = new Map<string, { type: string; fields: Record<string, unknown> }>();
        for (let i = 0; i < per; i++) {
          const k = b * per + i;
          const ti = k % TYPES.length;
          const id = `r-${k}`;
          // every 50th decision number repeats an earlier one: duplicates and corrections happen
          const fields = { ...base[ti], decisionNo: `湘bench〔2026〕${k % 50 === 0 && k > 0 ? k - 1000 : k}号`, sourceUscc: UNITS[Math.floor(k / 7) % UNITS.length], decisionDate: `2026-${month}-0${1 + (k % 9)}` };
          items.set(id, { type: TYPES[ti]!, fields });
          if (k % 20 === 7) rejected.push({ id, code: 'ERR_INVALID_USCC', field: 'uscc', codes: ['ERR_INVALID_USCC'] });
          else accepted.push({ id, type: TYPES[ti]!, fields, first: true });
        }
        await db.transaction((trx) => recordBatchQuality(trx, { node, batchId: `b-${b}`, sentAt: receivedAt, receivedAt, ok: true, items, rejected, accepted }));
      }
      const intake = n / seconds(t0);
      const timings = { month: [] as number[], all: [] as number[] };
      let submitted = 0;
      for (let r = 0; r < 3; r++) {
        const t1 = process.hrtime.bigint();
        const rep = await provinceQuality(db, { now: new Date(), month: '2026-06' });
        timings.month.push(seconds(t1));
        const t2 = process.hrtime.bigint();
        const all = await provinceQuality(db, { now: new Date() });
        timings.all.push(seconds(t2));
        submitted = all.totals.counters.submitted;
        if (r === 0) log(`June: ${rep.totals.counters.submitted.toLocaleString('en-US')} items, ${rep.units.length} unit × type rows; all months: ${submitted.toLocaleString('en-US')} items`);
      }
      if (submitted !== n) throw new Error(`the report counts ${submitted} items, not ${n}`);
      return [
        { label: 'quality: per-batch counting at intake', key: 'quality_intake_rps', value: intake, unit: 'records/s', note: `${n.toLocaleString('en-US')} records, batches of ${per}, kept rejections + counters + duplicate/name/correction indexes` },
        { label: 'quality: province report, one month', key: 'quality_report_month_s', value: median(timings.month), unit: 's', note: `median of 3, over ${n.toLocaleString('en-US')} records (target < 10 s)` },
        { label: 'quality: province report, all months', key: 'quality_report_all_s', value: median(timings.all), unit: 's', note: 'median of 3, 136 nodes × 3 units × 6 types × 12 months' },
      ];
    } finally {
      await closeStore(db, target);
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
