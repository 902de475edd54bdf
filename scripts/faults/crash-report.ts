/** The crash harness's verdict and its summary table (scripts/faults/crash.ts prints it; docs/reliability.md quotes it). */
import type { CrashReport } from './crash-harness.js';

export function crashVerdict(r: CrashReport): { ok: boolean; reasons: string[] } {
  const reasons: string[] = [];
  const t = r.totals;
  if (t.lost) reasons.push(`${t.lost} record(s) lost`);
  if (t.duplicates) reasons.push(`${t.duplicates} record(s) duplicated`);
  if (t.receiptsMatched !== t.receipts) reasons.push(`${t.receipts - t.receiptsMatched} receipt(s) do not match the hub's batches`);
  if (t.auditVerified !== t.auditChecks) reasons.push(`${t.auditChecks - t.auditVerified} audit check(s) failed`);
  for (const run of r.runs) for (const p of run.census.problems) reasons.push(`run ${run.run}: ${p}`);
  for (const [id, v] of Object.entries(r.cliAudit ?? {})) if (!v.ok) reasons.push(`credit audit verify ${id}: ${v.output}`);
  return { ok: reasons.length === 0, reasons };
}

export function crashSummary(r: CrashReport): string {
  const t = r.totals;
  const rows = [
    `runs (kills)            ${r.runs.length}: node during import ${t.kills.import}, node while sending ${t.kills.send}, hub during intake ${t.kills.hub}, receiving node while applying ${t.kills.pull}`,
    `kills mid-activity      ${t.landedDuring} of ${r.runs.length} (the rest landed just after the activity ended)`,
    `import lines sent       ${t.importLines.toLocaleString('en-US')} (${t.importsRerun} imports re-run after a kill)`,
    `records                 node ${t.recordsAtNode.toLocaleString('en-US')}, hub ${t.recordsAtHub.toLocaleString('en-US')}, receiving node ${t.recordsAtReceiver.toLocaleString('en-US')}`,
    `records lost            ${t.lost}`,
    `records duplicated      ${t.duplicates}`,
    `receipts matched        ${t.receiptsMatched} of ${t.receipts} (the hub's envelope and accepted ids)`,
    `audit logs verified     ${t.auditVerified} of ${t.auditChecks} checks (both nodes and the hub after every run)`,
    ...Object.entries(r.cliAudit ?? {}).map(([id, v]) => `credit audit verify     ${id}: ${v.output.split('\n').pop()}`),
    `seed, lines per import  ${r.options.seed}, ${r.options.lines}`,
    `wall time               ${t.seconds} s`,
  ];
  return rows.join('\n');
}
