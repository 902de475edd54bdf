/**
 * `npm run demo`: the main job on one machine. A CA, a hub and three city nodes as separate
 * processes on loopback (each its own SQLite file); enrolment with one-time tokens; sample records;
 * the exchange; a province-wide query; a cross-city objection (异议); a withdrawal propagating and a
 * correction (version 2) following it; a revocation cutting a node off;
 * every audit log exported up to its last witness-cosigned checkpoint and verified strictly (each
 * log witnessed: the hub's by the nodes, each node's by the hub), every exchange log exported and verified offline, one batch's evidence package;
 * the province's data-quality indicators in DIR/quality.json; the featured 长沙 subject's signed credit report in DIR/report-<code>.pdf; a summary on stdout and in DIR/summary.json.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { credit } from './processes.js';
import { exportAndVerifyAudit } from './audit-logs.js';
import { evidenceOfFirstBatch, exportAndVerifyExchange } from './exchange-logs.js';
import { Federation, waitFor, type NodeSpec } from './federation.js';
import { sampleRecord, sampleSet } from './sample-data.js';
import { addDemoAccounts, addHubDemoAccounts, type DemoAccount } from './console-accounts.js';

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
  /** `sm`: the whole federation on the national suite CF1-SM2-SM4GCM-SM3 (SM2 root, hub and nodes with suites ["SM"]) and SM audit logs (audit.hashAlg sm3). */
  suite?: 'sm';
  log: (line: string) => void;
}

interface ExchangeStatus {
  outbox: { pending: number };
  batches: { accepted: number; refused: number; pending: number };
  lastError?: { loop: string; code: string; message: string } | null;
  inbox: { cursor: number; applied: number };
}

interface SubjectAnswer {
  records: { id: string; classification: string; sourceNode: string; status: string; version?: number; fields?: Record<string, unknown> }[];
  withheld: { classification: string; code: string; count?: number }[];
}

/** `consoles` of summary.json: each console's URL and demo accounts. */
export interface Consoles {
  hub?: { url: string; accounts: DemoAccount[] };
  nodes: Record<string, { url: string; accounts: DemoAccount[] }>;
}

export async function runDemo(o: DemoOptions): Promise<Record<string, unknown>> {
  const t0 = Date.now();
  const step = (text: string) => o.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${text}`);
  const sm = o.suite === 'sm';
  const fed = new Federation(o.out, {
    nodeHubConfig: { pollIntervalMs: 300, batchMaxAgeMs: 200, checkpointIntervalMs: 2000, ...(sm ? { suites: ['SM'] } : {}) },
    consoles: true,
    // on SM every audit log is created sm3 (SM3 chain and tree, checkpoints and cosignatures SM2-with-SM3)
    ...(sm ? { sm2Ca: true, hubConfig: { suites: ['SM'], audit: { hashAlg: 'sm3' } }, nodeConfig: { audit: { hashAlg: 'sm3' } } } : {}),
  });
  // the web consoles: { hub: { url, accounts }, nodes: { "430100": { url, accounts } } }
  const consoles: Consoles = { nodes: {} };
  const summary: Record<string, unknown> = { out: o.out, nodes: {}, consoles };
  try {
    step(`provincial CA in ${fed.caDir}`);
    await fed.init();
    const hub = await fed.startHub();
    step(`hub 430000 listening at ${hub.url} (mutual TLS)`);
    if (hub.consoleUrl) {
      const accounts = await addHubDemoAccounts({ configFile: fed.hubConfigFile, apiUrl: hub.url, caCertFile: fed.caCertFile }, fed.env);
      consoles.hub = { url: hub.consoleUrl, accounts };
      step(`hub console at ${hub.consoleUrl}; demo accounts ${accounts.map((a) => `${a.user} (${a.role})`).join(', ')}`);
    }
    for (const spec of DEMO_NODES) {
      await fed.enrolNode(spec);
      await fed.startNode(spec.id);
      const proc = fed.node(spec.id).process!;
      step(`node ${spec.id} ${spec.name} (grade ${spec.grade}) enrolled with a one-time token, listening at ${proc.url}`);
      if (proc.consoleUrl) {
        const accounts = await addDemoAccounts({ id: spec.id, configFile: fed.node(spec.id).configFile, apiUrl: proc.url }, fed.env);
        consoles.nodes[spec.id] = { url: proc.consoleUrl, accounts };
        step(`node ${spec.id} console at ${proc.consoleUrl}; demo accounts ${accounts.map((a) => `${a.user} (${a.role})`).join(', ')}`);
      }
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
    // A cross-city objection (异议): filed at 常德 about 长沙's record, sealed to 长沙 through the hub,
    // decided there (only the owner decides), the result and the cleared 异议中 mark back at 常德.
    const filed = await fed.api<{ id: string; dueDate: string }>('430700', 'POST', `/v1/records/${target}/objections`, { grounds: '示例：当事人称处罚决定已被复议变更' });
    if (filed.status !== 201) throw new Error(`objection at 常德 failed: ${filed.status} ${JSON.stringify(filed.body)}`);
    step(`常德 filed objection ${filed.body.id} about 长沙's record ${target} (decision due ${filed.body.dueDate}, working days)`);
    await waitFor('the objection to reach 长沙 (异议中 there)', async () => {
      const r = await fed.api<{ disputedLabel?: string }>('430100', 'GET', `/v1/records/${target}`);
      return r.body.disputedLabel === '异议中' ? true : undefined;
    });
    step('长沙 received it; the record shows 异议中 at both nodes');
    const decided = await fed.api('430100', 'POST', `/v1/objections/${filed.body.id}/resolve`, { outcome: 'rejected', note: '示例：复议决定维持原处罚' });
    if (decided.status !== 200) throw new Error(`deciding the objection at 长沙 failed: ${decided.status} ${JSON.stringify(decided.body)}`);
    const result = await waitFor('the result to come back to 常德', async () => {
      const r = await fed.api<{ status: string; resolvedBy: string }[]>('430700', 'GET', `/v1/records/${target}/objections`);
      return r.body[0]?.status === 'rejected' ? r.body[0] : undefined;
    });
    step(`长沙 rejected it; 常德 holds the result (${result.resolvedBy}) and the mark is cleared`);
    summary.objection = { id: filed.body.id, record: target, filedAt: '430700', decidedAt: '430100', outcome: result.status };
    const w = await fed.api('430100', 'POST', `/v1/records/${target}/withdraw`, { reason: 'correction', note: '示例：更正' });
    if (w.status !== 200) throw new Error(`withdrawal failed: ${w.status} ${JSON.stringify(w.body)}`);
    step(`长沙 withdrew record ${target} (correction)`);
    await waitFor('the withdrawal to reach 常德', async () => {
      const r = await fed.api<SubjectAnswer>('430700', 'GET', `/v1/subjects/${changsha}`);
      return r.status === 200 && !r.body.records.some((x) => x.id === target) ? true : undefined;
    });
    step('常德 no longer shows it');
    summary.withdrawal = { record: target, goneAtChangde: true };

    // the correction (信息更正): the same 文书号 re-submitted with the corrected amount is version 2 of
    // the same record, active again; it travels as a `versions` batch item and replaces 常德's copy
    const original = sets.get('430100')!.records[1]!;
    const corrected = { ...original, fields: { ...original.fields, fineAmount: 0.3, content: '未按规定公示食品经营许可证，罚款人民币叁仟元（更正）' } };
    const c = await fed.api<{ versions: number; records: { id: string; version: number; status: string }[] }>('430100', 'POST', '/v1/records', corrected);
    if (c.status !== 200 || c.body.versions !== 1 || c.body.records[0]!.id !== target) throw new Error(`correction failed: ${c.status} ${JSON.stringify(c.body)}`);
    step(`长沙 re-submitted ${target} with the corrected fine: version ${c.body.records[0]!.version}, ${c.body.records[0]!.status}`);
    const back = await waitFor('the correction to reach 常德', async () => {
      const r = await fed.api<SubjectAnswer>('430700', 'GET', `/v1/subjects/${changsha}`);
      const hit = r.status === 200 ? r.body.records.find((x) => x.id === target) : undefined;
      return hit?.version === 2 ? hit : undefined;
    });
    step(`常德 shows it again, corrected (version 2, fine ${String(back.fields?.fineAmount)} 万元)`);
    summary.correction = { record: target, version: 2, atChangde: true };

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

    // data quality (issue 19): the province view of every node, from the hub's aggregates
    const qualityFile = join(o.out, 'quality.json');
    const qr = await credit(['hub', 'quality', '--config', fed.hubConfigFile, '--json', '--out', qualityFile]);
    if (qr.code !== 0) throw new Error(`hub quality failed: ${qr.stderr}`);
    const quality = JSON.parse(readFileSync(qualityFile, 'utf8')) as { totals: { counters: { submitted: number }; indicators: { complianceRate: number | null } }; nodes: { node: string }[]; interconnection: { seen: number; expected: number } };
    summary.quality = { file: qualityFile, items: quality.totals.counters.submitted, complianceRate: quality.totals.indicators.complianceRate, nodes: quality.nodes.map((n) => n.node), interconnection: `${quality.interconnection.seen}/${quality.interconnection.expected}` };
    step(`province data quality written to ${qualityFile}: ${quality.totals.counters.submitted} items from ${quality.nodes.length} nodes, 数据合规率 ${String(quality.totals.indicators.complianceRate)}, 互联互通 ${quality.interconnection.seen}/${quality.interconnection.expected}`);

    // the credit report (issue 19): the featured 长沙 subject, as 长沙's administrator sees it, signed and verified
    const reportFile = join(o.out, `report-${changsha}.pdf`);
    const cs = fed.node('430100');
    const rr = await credit(['node', 'report', '--config', cs.configFile, '--code', changsha, '--out', reportFile, '--token', cs.token!, '--url', cs.process!.url]);
    if (rr.code !== 0) throw new Error(`node report failed: ${rr.stderr}`);
    const reportCheck = await credit(['node', 'report', 'verify', reportFile, '--ca', fed.caCertFile]);
    if (reportCheck.code !== 0) throw new Error(`verifying ${reportFile} failed: ${reportCheck.stderr}`);
    summary.report = { file: reportFile, verified: reportCheck.stdout.trim() };
    step(`credit report of the 长沙 subject written to ${reportFile}; ${reportCheck.stdout.trim()}`);

    // on SM the audit logs are signed and cosigned with SM2 keys only: they verify with the SM2 root alone
    summary.audit = await exportAndVerifyAudit({
      out: o.out, caCertFile: sm ? join(fed.caDir, 'sm2-ca.pem') : fed.caCertFile, step,
      hub: { id: '430000', db: join(fed.hubDir, 'data', 'hub.sqlite'), key: join(fed.hubDir, 'data', sm ? 'hub-sm2.key' : 'hub.key'), cert: join(fed.hubDir, 'data', sm ? 'hub-sm2.pem' : 'hub.pem') },
      nodes: DEMO_NODES.map((n) => ({ id: n.id, db: join(fed.node(n.id).dir, 'data', 'node.sqlite') })),
    });
    const sides = [{ id: '430000', configFile: fed.hubConfigFile }, ...DEMO_NODES.map((n) => ({ id: n.id, configFile: fed.node(n.id).configFile }))];
    // on SM the envelope signers' certificates come from the SM2 root: the exchange log is checked against both roots
    const trustFile = sm ? join(o.out, 'ca-and-sm2-ca.pem') : fed.caCertFile;
    if (sm) writeFileSync(trustFile, readFileSync(fed.caCertFile, 'utf8') + readFileSync(join(fed.caDir, 'sm2-ca.pem'), 'utf8'));
    summary.exchange = await exportAndVerifyExchange({ out: o.out, caCertFile: trustFile, hubConfigFile: fed.hubConfigFile, sides, revoked: '430700', step });
    summary.evidence = await evidenceOfFirstBatch({ out: o.out, caCertFile: trustFile, hubConfigFile: fed.hubConfigFile, node: sides[1]!, step });
    summary.caCert = fed.caCertFile;
    summary.seconds = Math.round((Date.now() - t0) / 100) / 10;
    writeFileSync(join(o.out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    o.log(renderSummary(summary, DEMO_NODES));
    step(`summary written to ${join(o.out, 'summary.json')}; CA certificate at ${fed.caCertFile}`);

    if (o.keep) {
      o.log('\nThe federation keeps running (Ctrl-C stops it). Try:');
      o.log(`  hub:  ${fed.hubUrl}  (mutual TLS; CA certificate ${fed.caCertFile})`);
      o.log(renderConsoles(consoles, DEMO_NODES, fed.caCertFile));
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

/** The consoles' URLs and demo accounts (password and TOTP secret: enter the secret into an authenticator app). */
export function renderConsoles(c: Consoles, nodes: NodeSpec[], caCertFile: string): string {
  const lines = [`  web consoles (HTTPS, certificates from the provincial CA ${caCertFile}; log in with password + TOTP code):`];
  if (c.hub) {
    lines.push(`    430000 省级枢纽 (operator console)  ${c.hub.url}`);
    for (const a of c.hub.accounts) lines.push(`      ${a.user.padEnd(8)} ${a.role.padEnd(8)} password ${a.password}  TOTP secret ${a.totpSecret}`);
  }
  for (const n of nodes) {
    const e = c.nodes[n.id];
    if (!e) continue;
    lines.push(`    ${n.id} ${n.name}  ${e.url}`);
    for (const a of e.accounts) lines.push(`      ${a.user.padEnd(8)} ${a.role.padEnd(8)} password ${a.password}  TOTP secret ${a.totpSecret}`);
  }
  return lines.join('\n');
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
    ...(s.objection ? [`  objection      filed at 常德 about 长沙's record, decided at 长沙 (${(s.objection as { outcome: string }).outcome}), result back at 常德`] : []),
    `  withdrawal     ${(s.withdrawal as { record: string }).record} withdrawn at 长沙, gone at 常德`,
    ...(s.correction ? [`  correction     ${(s.correction as { record: string }).record} re-submitted corrected at 长沙: version 2, active again at 常德`] : []),
    `  revocation     常德 revoked; its next batch refused with ${(s.revocation as { refusedWith: string }).refusedWith}`,
    ...Object.entries(audit).map(([id, line]) => `  audit ${id}   ${line.replace(/, root [0-9a-f]+ at tree size \d+/, '')}`),
    ...Object.entries((s.exchange ?? {}) as Record<string, string>).map(([id, line]) => `  exchange ${id}   ${line}`),
    ...(s.evidence ? [`  evidence       ${String(s.evidence)}`] : []),
    ...(s.quality ? [`  quality        ${String((s.quality as { file: string }).file)}: ${String((s.quality as { items: number }).items)} items, 数据合规率 ${String((s.quality as { complianceRate: number }).complianceRate)}`] : []),
    ...(s.report ? [`  report         ${String((s.report as { file: string }).file)} (signed by 长沙, verified against the CA)`] : []),
    ...(((s.consoles ?? {}) as Partial<Consoles>).hub ? [`  console hub     ${(s.consoles as Consoles).hub!.url}`] : []),
    ...Object.entries(((s.consoles ?? { nodes: {} }) as { nodes: Record<string, { url: string }> }).nodes).map(([id, c]) => `  console ${id}  ${c.url}`),
    `  took ${String(s.seconds)} s`,
    '',
  ];
  return lines.join('\n');
}
