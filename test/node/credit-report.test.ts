import t from 'tap';
import { caTrust } from '../../protocol/ca-trust.js';
import { openReport } from '../../protocol/credit-report.js';
import { openReportPdf } from '../../protocol/report-pdf-seal.js';
import { makeCa } from '../helpers/pki.js';
import { codeOf } from './exchange-fixture.js';
import { COMPANY, PERSON_ID, pdfText, reportFixture } from './report-fixture.js';
import { nodeFields } from '../helpers/at-rest.js';

const PURPOSE = '行政审批 示例-2026-001';

t.test('GET /v1/subjects/:code/report', async (t) => {
  const { f, ca } = await reportFixture(t);
  const trust = caTrust({ caCertPems: [ca.certPem] });
  const query = await f.auth('query', 'shared');

  await t.test('JSON: the signed report holds what the subject query shows, in the standard\'s sections', async (t) => {
    const res = await f.app.inject({ method: 'GET', url: `/v1/subjects/${COMPANY}/report`, headers: query });
    t.equal(res.statusCode, 200, res.body);
    t.match(res.headers['content-type'], /application\/json/);
    const opened = await openReport(res.rawPayload, trust);
    const b = opened.body;
    t.equal(b.issuer.nodeId, '430100');
    t.match(b.reportNo, /^XY430100\d{8}[0-9A-F]{8}$/);
    t.same(b.subject, { code: COMPANY, name: '长沙示例餐饮有限公司', category: '法人及非法人组织' });
    t.same(b.sections.map((s) => s.title), ['行政许可信息', '行政处罚信息', '守信激励信息', '失信信息', '信用承诺信息', '其他信息']);
    const penalties = b.sections.find((s) => s.key === 'penalties')!.entries;
    t.same(penalties.map((e) => e.rows.find((r) => r.label === '行政处罚决定书文号')!.value), ['长市监处罚〔2026〕102号', '长市监处罚〔2026〕101号'], 'visible penalties only, newest first');
    t.equal(b.sections.find((s) => s.key === 'licences')!.entries.length, 1);
    t.equal(b.sections.find((s) => s.key === 'incentives')!.entries.length, 1);
    t.same(b.withheld, [{ classification: 'internal', count: 1 }, { classification: 'restricted', count: 1 }], 'restricted and internal withheld, counted without content');
    t.ok(f.events.some((e) => e.action === 'report.issue' && e.reason === b.reportNo && e.actor === 'user:query-shared'), 'the report is audited');
    t.notOk(f.events.some((e) => e.action === 'report.issue' && String(e.object).includes(COMPANY)), 'the subject appears in the audit log only as its handle');
  });

  await t.test('PDF: Chinese text with the visible 行政处罚 rows and none other; 验证码 on every page; small', async (t) => {
    const res = await f.app.inject({ method: 'GET', url: `/v1/subjects/${COMPANY}/report`, headers: { ...query, accept: 'application/pdf' } });
    t.equal(res.statusCode, 200);
    t.equal(res.headers['content-type'], 'application/pdf');
    const pdf = res.rawPayload;
    t.ok(pdf.length < 300 * 1024, `the PDF is ${pdf.length} bytes (font subset)`);
    const opened = await openReportPdf(pdf, trust);
    const text = pdfText(pdf);
    if (text === undefined) {
      t.skip('pdftotext is not installed (apt-get install poppler-utils)', () => {});
      return;
    }
    for (const s of ['公共信用信息报告', '长沙示例餐饮有限公司', COMPANY, '行政处罚信息', '可见处罚甲', '可见处罚乙', '长市监处罚〔2026〕101号', '失信信息', '信用承诺信息', '异议及信用修复标注', opened.body.reportNo]) t.ok(text.includes(s), `shows ${s}`);
    for (const s of ['授权查询处罚丙', '内部处罚丁', '过期处罚戊', '103号', '104号', '105号']) t.notOk(text.includes(s), `does not show ${s}`);
    const pages = text.split('\f').filter((p) => p.trim() !== '');
    t.ok(pages.length >= 1);
    for (const p of pages) t.ok(p.includes(opened.verificationCode), 'the 验证码 is on the page');
  });

  await t.test('信用承诺: the commitments of repair applications about records the report shows, and none other', async (t) => {
    const rows = (await f.db('node_records').select('id', 'fields')) as { id: string; fields: string }[];
    const idOf = (no: string) => rows.find((r) => nodeFields(f.db, r).decisionNo === no)!.id;
    const rep = (id: string, recordId: string, commitment: string, appliedAt: string, status = 'pending') => ({ id, record_id: recordId, status, origin: 'application', evidence: '[]', commitment, applied_by: 'user:x', applied_at: appliedAt, due_date: '2026-12-31' });
    await f.db('node_repairs').insert([
      rep('c-visible', idOf('长市监处罚〔2026〕101号'), '本单位承诺整改到位，联系电话 13800138000', '2026-11-20T02:00:00.000Z'),
      rep('c-restricted', idOf('长市监处罚〔2026〕103号'), '授权查询记录的承诺', '2026-11-21T02:00:00.000Z', 'refused'),
    ]);
    const res = await f.app.inject({ method: 'GET', url: `/v1/subjects/${COMPANY}/report`, headers: query });
    const entries = (await openReport(res.rawPayload, trust)).body.sections.find((s) => s.key === 'commitments')!.entries;
    t.same(entries.map((e) => e.id), ['c-visible'], 'the commitment about a withheld record is left out');
    t.same(entries[0]!.rows, [
      { label: '承诺类型', value: '信用修复承诺' },
      { label: '承诺内容', value: '本单位承诺整改到位，联系电话 138****8000' },
      { label: '承诺日期', value: '2026-11-20' },
      { label: '承诺受理单位', value: '节点 430100' },
      { label: '关联信息', value: '行政处罚 长市监处罚〔2026〕101号' },
    ], 'the phone number masked');
    t.same(entries[0]!.marks, ['信用修复申请办理中']);
    const officer = await f.auth('query', 'restricted');
    const all = await f.app.inject({ method: 'GET', url: `/v1/subjects/${COMPANY}/report?purpose=${encodeURIComponent(PURPOSE)}`, headers: officer });
    t.same((await openReport(all.rawPayload, trust)).body.sections.find((s) => s.key === 'commitments')!.entries.map((e) => e.id), ['c-restricted', 'c-visible'], 'with the clearance both, newest first');
    await f.db('node_repairs').whereIn('id', ['c-visible', 'c-restricted']).delete();
  });

  await t.test('restricted rows appear with a stated purpose and the clearance; the release is audited', async (t) => {
    const officer = await f.auth('query', 'restricted');
    const res = await f.app.inject({ method: 'GET', url: `/v1/subjects/${COMPANY}/report?purpose=${encodeURIComponent(PURPOSE)}`, headers: officer });
    const b = (await openReport(res.rawPayload, trust)).body;
    t.equal(b.sections.find((s) => s.key === 'penalties')!.entries.length, 3);
    t.same(b.requester, { role: 'query', clearance: 'restricted', purpose: PURPOSE });
    t.ok(f.events.some((e) => e.action === 'record.read' && e.class === 'restricted' && e.reason === PURPOSE), 'restricted release audited as in a subject query');
  });

  await t.test('identifiers are masked as the API masks them', async (t) => {
    const pub = await f.auth('query', 'public');
    const api = (await f.app.inject({ method: 'GET', url: `/v1/subjects/${PERSON_ID}`, headers: pub })).json() as { records: { subject: string; fields: { idNumber: string } }[] };
    t.not(api.records[0]!.subject, PERSON_ID, 'the API masks it');
    const res = await f.app.inject({ method: 'GET', url: `/v1/subjects/${PERSON_ID}/report`, headers: { ...pub, accept: 'application/pdf' } });
    const opened = await openReportPdf(res.rawPayload, trust);
    t.equal(opened.body.subject.code, api.records[0]!.subject);
    const rows = opened.body.sections.find((s) => s.key === 'penalties')!.entries[0]!.rows;
    t.equal(rows.find((r) => r.label === '证件号码')?.value, api.records[0]!.fields.idNumber);
    const text = pdfText(res.rawPayload);
    if (text === undefined) {
      t.skip('pdftotext is not installed', () => {});
      return;
    }
    t.ok(text.includes(api.records[0]!.subject), 'the masked code is shown');
    t.notOk(text.includes(PERSON_ID), 'the full resident ID is not');
  });

  await t.test('verification: a changed byte anywhere fails with a stable code; another CA fails', async (t) => {
    const pdf = (await f.app.inject({ method: 'GET', url: `/v1/subjects/${COMPANY}/report`, headers: { ...query, accept: 'application/pdf' } })).rawPayload;
    const flip = (at: number) => {
      const b = Buffer.from(pdf);
      b[at] = b[at]! ^ 0x01;
      return b;
    };
    const marker = pdf.lastIndexOf('%CREDIT-REPORT ');
    t.equal(await codeOf(openReportPdf(flip(Math.floor(marker / 2)), trust)), 'ERR_REPORT_PDF_MISMATCH', 'a byte of the rendered PDF');
    t.equal(await codeOf(openReportPdf(flip(20), trust)), 'ERR_REPORT_PDF_MISMATCH', 'a byte of the header');
    t.equal(await codeOf(openReportPdf(flip(marker + 15), trust)), 'ERR_REPORT_MALFORMED', 'a byte of the trailer JSON structure');
    t.equal(await codeOf(openReportPdf(flip(marker + 40), trust)), 'ERR_REPORT_PDF_MISMATCH', 'a byte of the PDF signature header');
    t.equal(await codeOf(openReportPdf(flip(pdf.length - 10), trust)), 'ERR_REPORT_MALFORMED', 'the closing startxref');
    t.equal(await codeOf(openReportPdf(Buffer.concat([pdf, Buffer.from('\n')]), trust)), 'ERR_REPORT_MALFORMED', 'a byte appended');
    // every byte of the trailer JSON: each change is refused
    const trailer = pdf.subarray(marker).toString('utf8');
    const nameAt = marker + Buffer.byteLength(trailer.slice(0, trailer.indexOf('长沙示例餐饮')), 'utf8');
    const bad = Buffer.from(pdf);
    bad.write('湘', nameAt, 'utf8');
    t.equal(await codeOf(openReportPdf(bad, trust)), 'ERR_REPORT_SIGNATURE', 'a changed name in the signed body');
    const sigAt = marker + trailer.indexOf('"signature":"') + '"signature":"'.length + 5;
    const sig = Buffer.from(pdf);
    sig[sigAt] = sig[sigAt] === 0x41 ? 0x42 : 0x41;
    t.match(await codeOf(openReportPdf(sig, trust)), /^ERR_REPORT_(SIGNATURE|PDF_MISMATCH)$/, 'a changed signature character');
    t.equal(await codeOf(openReportPdf(Buffer.from('%PDF-1.3\n%%EOF\n'), trust)), 'ERR_REPORT_MALFORMED', 'an unsealed PDF');
    t.equal(await codeOf(openReportPdf(pdf, caTrust({ caCertPems: [makeCa('Another CA').certPem] }))), 'ERR_CERT_UNTRUSTED', 'another CA');
    t.equal((await openReportPdf(pdf, trust)).signerNodeId, '430100', 'the original verifies');
  });

  await t.test('JSON: a changed byte fails', async (t) => {
    const json = (await f.app.inject({ method: 'GET', url: `/v1/subjects/${COMPANY}/report`, headers: query })).rawPayload;
    const spaced = Buffer.from(json.toString('utf8').replace('{"body"', '{ "body"'));
    t.equal(await codeOf(openReport(spaced, trust)), 'ERR_REPORT_MALFORMED', 'not canonical');
    const changed = Buffer.from(json.toString('utf8').replace('可见处罚甲', '可见处罚庚'));
    t.equal(await codeOf(openReport(changed, trust)), 'ERR_REPORT_SIGNATURE');
  });
});

t.test('a node never enrolled has no key to sign with: ERR_REPORT_NO_SIGNER', async (t) => {
  const { f } = await reportFixture(t, { enrol: false });
  const res = await f.app.inject({ method: 'GET', url: `/v1/subjects/${COMPANY}/report`, headers: await f.auth('query', 'shared') });
  t.equal(res.statusCode, 503);
  t.equal(res.json().code, 'ERR_REPORT_NO_SIGNER');
});
