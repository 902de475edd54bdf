/**
 * Crash safety (issue #8): real hub and node processes SIGKILLed at seeded random points — a node
 * during a large CSV import, a node while it sends, the hub during intake, a receiving node while it
 * applies distributions — by the harness in
 * scripts/faults/crash-harness.ts. After every restart: each record exactly once at the node, the
 * hub and a receiving node; every stored receipt is the envelope the hub recorded for that batch,
 * with the same accepted ids; the three audit logs verify against the CA; an import cut off and re-run
 * adds exactly the lines that were missing.
 *
 * `npm test`: 4 kills (one of each) of 1,500-line imports. `npm run test:faults`
 * (CREDIT_FAULTS=long): 24 kills of 10,000-line imports, and the audit logs also go through
 * `credit audit export` + `credit audit verify --ca` at the end. CREDIT_FAULTS_SEED picks the seed.
 */
import t from 'tap';
import { runCrash, CRASH_TARGETS } from '../../scripts/faults/crash-harness.js';
import { crashSummary, crashVerdict } from '../../scripts/faults/crash-report.js';

const LONG = process.env.CREDIT_FAULTS === 'long';
const seed = Number(process.env.CREDIT_FAULTS_SEED ?? 8);
if (LONG) t.setTimeout(4 * 3_600_000);

const report = await runCrash({ runs: LONG ? 24 : CRASH_TARGETS.length, seed, lines: LONG ? 10_000 : 1500, cliAudit: LONG, log: (l) => t.comment(l) });
t.comment(crashSummary(report));

t.test('every target was killed', async (t) => {
  for (const target of CRASH_TARGETS) t.ok(report.totals.kills[target] >= 1, `${target}: ${report.totals.kills[target]} kill(s)`);
  t.ok(report.totals.landedDuring >= 1, `${report.totals.landedDuring} kill(s) landed while the activity was under way`);
});

for (const run of report.runs) {
  const c = run.census;
  t.test(`run ${run.run}: ${run.target} killed at ${run.trigger} (${run.landed})`, async (t) => {
    t.equal(c.nodeOwn, run.expectedAtNode, 'the node holds every valid line it was given, once');
    t.equal(c.nodeDuplicates, 0, 'no natural key twice at the node');
    t.equal(c.missingAtHub, 0, 'no sendable record missing at the hub');
    t.equal(c.unknownAtHub, 0, 'the hub holds nothing the node does not');
    t.equal(c.hubRecords, c.nodeSendable, 'the hub holds each sendable record once');
    t.equal(c.hubDuplicates, 0, 'no natural key twice at the hub');
    t.equal(c.acceptedTwice, 0, 'no record accepted in two receipts');
    t.ok(c.receipts > 0, 'receipts stored');
    t.equal(c.receiptsMatched, c.receipts, 'every receipt is the envelope the hub recorded, with the same accepted ids');
    t.equal(c.hubBatchesWithoutReceipt, 0, 'every batch the hub took has its receipt at the node');
    t.same(c.problems, []);
    for (const r of c.receivers) {
      t.equal(r.missing, 0, `${r.id} misses none of the ${r.expected} records it should receive`);
      t.equal(r.duplicates, 0, `${r.id} holds none twice`);
    }
    t.ok(run.audit.node.ok, `the node's audit log verifies (${run.audit.node.entries} entries)${run.audit.node.code ? `: ${run.audit.node.code} ${run.audit.node.reason}` : ''}`);
    t.ok(run.audit.hub.ok, `the hub's audit log verifies (${run.audit.hub.entries} entries)${run.audit.hub.code ? `: ${run.audit.hub.code} ${run.audit.hub.reason}` : ''}`);
    t.ok(run.audit.receiver.ok, `the receiving node's audit log verifies (${run.audit.receiver.entries} entries)${run.audit.receiver.code ? `: ${run.audit.receiver.code} ${run.audit.receiver.reason}` : ''}`);
    if (run.rerun) {
      t.equal(run.rerun.accepted + run.rerun.duplicates, run.valid, 'the re-run accounts for every valid line');
      t.equal(run.rerun.accepted, run.valid - run.committedBeforeKill, 'the re-run adds exactly the lines the kill cut off');
    }
  });
}

t.test('verdict', async (t) => {
  const v = crashVerdict(report);
  t.same(v.reasons, [], 'nothing lost, nothing twice, every receipt matched, every audit log verified');
  t.equal(report.totals.lost, 0);
  t.equal(report.totals.duplicates, 0);
  if (LONG) {
    t.ok(report.runs.length >= 20, `${report.runs.length} kills`);
    for (const [id, r] of Object.entries(report.cliAudit ?? {})) t.ok(r.ok, `credit audit verify ${id}: ${r.output}`);
  }
});
