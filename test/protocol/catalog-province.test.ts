/**
 * The province supplementary catalog document (protocol/catalog-document.ts, catalog-signature.ts,
 * catalog-registry.ts), adversarially: a real signature by a hub certificate from a per-run CA,
 * then every way a document can be wrong — tampered, wrong signer, replayed, oversize, malformed,
 * redefining a national type — and records of types or serials a reader does not hold.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { caTrust } from '../../protocol/ca-trust.js';
import { exampleRecord, getRecordType, listRecordTypes, recordTypeOrigin, validateRecord } from '../../protocol/catalog.js';
import { assertCatalogDraft, CATALOG_LIMITS, type CatalogBody, type CatalogDraft } from '../../protocol/catalog-document.js';
import { installProvinceCatalog, provinceSerial } from '../../protocol/catalog-registry.js';
import { catalogDigest, catalogSuccession, openCatalog, signCatalog } from '../../protocol/catalog-signature.js';
import { RECORD_TYPES_BY_CODE } from '../../protocol/catalog-types.js';
import { fromWire } from '../../node/exchange/wire.js';
import { checkRecords } from '../../hub/intake-policy.js';
import { issue, makeCa } from '../helpers/pki.js';
import { codeOf } from '../helpers/code-of.js';

const NATIONAL = new Set(RECORD_TYPES_BY_CODE.keys());
const EXAMPLE = JSON.parse(readFileSync(new URL('../../docs/examples/province-catalog.json', import.meta.url), 'utf8')) as CatalogDraft;
const ca = makeCa();
const hub = issue(ca, '430000');
const node = issue(ca, '430100');
const otherCa = makeCa('Some Other CA');
const foreignHub = issue(otherCa, '430000');
const trust = caTrust({ caCertPems: [ca.certPem] });
const now = new Date();
const opts = { trust, nationalCodes: NATIONAL, hubNodeId: '430000', now };

function body(serial = 1, draft: CatalogDraft = EXAMPLE): CatalogBody {
  return { ...structuredClone(draft), province: '430000', serial, publishedAt: new Date(now.getTime() - 1000).toISOString() };
}

async function codeOfAsync(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return String((e as { code?: string }).code);
  }
}

function xzqzRecord(): Record<string, unknown> {
  const cf = exampleRecord('CF').fields;
  return {
    type: 'XZQZ',
    fields: {
      subjectName: '长沙示例餐饮有限公司', subjectCategory: '法人及非法人组织', uscc: cf.uscc, decisionNo: '长市监强〔2026〕7号',
      kind: '行政强制措施', measure: '扣押财物', facts: '经营超过保质期的食品（示例）', basis: '《中华人民共和国食品安全法》第一百一十条',
      content: '扣押超过保质期的食品一批', decisionDate: '2026-04-15', validFrom: '2026-04-15', validTo: '2026-05-14', severity: '一般',
      authority: '长沙市市场监督管理局', authorityUscc: cf.authorityUscc, sourceName: '长沙市公共信用信息中心', sourceUscc: cf.sourceUscc,
    },
  };
}

t.afterEach(() => void installProvinceCatalog(null));

t.test('the example catalog signs, verifies, installs, and its types validate records', async (t) => {
  const text = await signCatalog(body(3), hub);
  const c = await openCatalog(text, opts);
  t.equal(c.body.serial, 3);
  t.equal(c.signer.nodeId, '430000');
  t.same(c.body.types.map((x) => x.code), ['XZQZ', 'JYYC']);
  t.equal(codeOf(() => getRecordType('XZQZ')), 'ERR_UNKNOWN_RECORD_TYPE', 'not known before it is installed');
  const before = validateRecord(xzqzRecord());
  t.equal(before.ok ? 'ok' : before.errors[0]!.code, 'ERR_UNKNOWN_RECORD_TYPE');

  installProvinceCatalog(c.body, c.digest);
  t.equal(provinceSerial(), 3);
  t.equal(getRecordType('XZQZ').name, '行政强制');
  t.ok(listRecordTypes().some((x) => x.code === 'JYYC'));
  t.same(recordTypeOrigin('CF').source, 'national');
  t.match(recordTypeOrigin('XZQZ'), { source: 'province', province: '430000', serial: 3, publishedAt: c.body.publishedAt });
  const r = validateRecord(xzqzRecord());
  t.ok(r.ok, JSON.stringify(r.ok ? null : r.errors));
  if (r.ok) t.equal(r.record.fields.severity, 'ordinary', 'alias 一般 normalised');
  const bad = validateRecord({ ...xzqzRecord(), fields: { ...xzqzRecord().fields as object, measure: '没收' } });
  t.equal(bad.ok ? 'ok' : bad.errors[0]!.code, 'ERR_FIELD_ENUM', 'the province enum is enforced');
});

t.test("the signature's alg follows the hub certificate's key (RSA → PS256), not the document", async (t) => {
  const text = await signCatalog(body(1), hub);
  const doc = JSON.parse(text) as { signature: { protected: string } };
  t.same(JSON.parse(Buffer.from(doc.signature.protected, 'base64url').toString()), { alg: 'PS256' });
});

t.test('tampered documents: ERR_CATALOG_SIGNATURE', async (t) => {
  const text = await signCatalog(body(1), hub);
  const doc = JSON.parse(text) as { body: CatalogBody; signature: { protected: string; signature: string } };
  const relabelled = structuredClone(doc);
  relabelled.body.types[0]!.classification = 'public';
  relabelled.body.types[0]!.fields[0]!.label = '相对人名称';
  t.equal(await codeOfAsync(openCatalog(JSON.stringify(relabelled), opts)), 'ERR_CATALOG_SIGNATURE', 'a changed label');
  const reserial = structuredClone(doc);
  reserial.body.serial = 9;
  t.equal(await codeOfAsync(openCatalog(JSON.stringify(reserial), opts)), 'ERR_CATALOG_SIGNATURE', 'a raised serial');
  const sig = structuredClone(doc);
  const bytes = Buffer.from(sig.signature.signature, 'base64url');
  bytes[10] = bytes[10]! ^ 1;
  sig.signature.signature = bytes.toString('base64url');
  t.equal(await codeOfAsync(openCatalog(JSON.stringify(sig), opts)), 'ERR_CATALOG_SIGNATURE', 'a flipped signature bit');
  const alg = structuredClone(doc);
  alg.signature.protected = Buffer.from('{"alg":"none"}').toString('base64url');
  t.equal(await codeOfAsync(openCatalog(JSON.stringify(alg), opts)), 'ERR_CATALOG_SIGNATURE', 'alg none');
});

t.test('wrong signers: a node certificate, another CA, a future publication', async (t) => {
  t.equal(await codeOfAsync(openCatalog(await signCatalog(body(1), node), opts)), 'ERR_CATALOG_SIGNATURE', 'a node (430100) is not the hub');
  t.equal(await codeOfAsync(openCatalog(await signCatalog(body(1), foreignHub), opts)), 'ERR_CERT_UNTRUSTED', 'a 430000 certificate from another CA');
  const revoked = caTrust({ caCertPems: [ca.certPem], isRevoked: (s) => s === hub.serial });
  t.equal(await codeOfAsync(openCatalog(await signCatalog(body(1), hub), { ...opts, trust: revoked })), 'ERR_CERT_REVOKED', 'a revoked hub certificate');
  const future = { ...body(1), publishedAt: new Date(now.getTime() + 3_600_000).toISOString() };
  t.equal(await codeOfAsync(openCatalog(await signCatalog(future, hub), opts)), 'ERR_CATALOG_INVALID', 'published an hour ahead');
  const otherProvince = { ...body(1), province: '440000' };
  t.equal(await codeOfAsync(openCatalog(await signCatalog(otherProvince, hub), opts)), 'ERR_CATALOG_SIGNATURE', "another province's catalog");
});

t.test('serials only increase: an older document or another one with the held serial is ERR_CATALOG_SERIAL_REPLAY', async (t) => {
  const held = { serial: 2, digest: catalogDigest(body(2)) };
  const older = await openCatalog(await signCatalog(body(1), hub), opts);
  t.equal(codeOf(() => catalogSuccession(held, older)), 'ERR_CATALOG_SERIAL_REPLAY');
  const same = await openCatalog(await signCatalog(body(2), hub), opts);
  t.equal(catalogSuccession({ serial: 2, digest: same.digest }, same), 'same');
  const equivocation = await openCatalog(await signCatalog({ ...body(2), title: '另一个目录' }, hub), opts);
  t.equal(codeOf(() => catalogSuccession({ serial: 2, digest: same.digest }, equivocation)), 'ERR_CATALOG_SERIAL_REPLAY');
  const newer = await openCatalog(await signCatalog(body(3), hub), opts);
  t.equal(catalogSuccession(held, newer), 'newer');
  t.equal(catalogSuccession(null, older), 'newer');
});

t.test('oversize and malformed documents', async (t) => {
  const text = await signCatalog(body(1), hub);
  t.equal(await codeOfAsync(openCatalog(' '.repeat(CATALOG_LIMITS.maxDocumentBytes) + text, opts)), 'ERR_CATALOG_TOO_LARGE');
  t.equal(await codeOfAsync(openCatalog('{"format":', opts)), 'ERR_CATALOG_INVALID', 'not JSON');
  t.equal(await codeOfAsync(openCatalog('[]', opts)), 'ERR_CATALOG_INVALID', 'not an object');
  t.equal(await codeOfAsync(openCatalog(text.replace('{"body":', '{"format":"x","body":'), opts)), 'ERR_CATALOG_INVALID', 'a member name twice');
  const doc = JSON.parse(text) as Record<string, unknown>;
  t.equal(await codeOfAsync(openCatalog(JSON.stringify({ ...doc, extra: 1 }), opts)), 'ERR_CATALOG_INVALID', 'an extra member');
  t.equal(await codeOfAsync(openCatalog(JSON.stringify({ ...doc, format: 'credit-province-catalog/2' }), opts)), 'ERR_CATALOG_INVALID', 'another format');
});

t.test('hostile drafts: every problem at once, ERR_CATALOG_INVALID; a national code, ERR_CATALOG_TYPE_REDEFINED', async (t) => {
  const ok = structuredClone(EXAMPLE);
  t.equal(codeOf(() => assertCatalogDraft(ok, NATIONAL)), 'ok');
  const mutate = (f: (d: CatalogDraft & Record<string, unknown>) => void) => {
    const d = structuredClone(EXAMPLE) as CatalogDraft & Record<string, unknown>;
    f(d);
    return d;
  };
  const cases: [string, CatalogDraft, string][] = [
    ['unknown field type', mutate((d) => void ((d.types[0]!.fields[3] as { type: string }).type = 'blob')), 'ERR_CATALOG_INVALID'],
    ['duplicate type codes', mutate((d) => void (d.types[1]!.code = 'XZQZ')), 'ERR_CATALOG_INVALID'],
    ['duplicate field names', mutate((d) => void d.types[0]!.fields.push({ ...d.types[0]!.fields[0]!, label: '另一名称' })), 'ERR_CATALOG_INVALID'],
    ['duplicate labels (folded)', mutate((d) => void d.types[0]!.fields.push({ ...d.types[0]!.fields[0]!, name: 'otherName', label: ' 行政相对人名称 ' })), 'ERR_CATALOG_INVALID'],
    ['too many types', mutate((d) => void (d.types = Array.from({ length: CATALOG_LIMITS.maxTypes + 1 }, (_, i) => ({ ...structuredClone(EXAMPLE.types[0]!), code: `T${i}` })))), 'ERR_CATALOG_INVALID'],
    ['huge maxLength', mutate((d) => void (d.types[0]!.fields[0]!.maxLength = 10_000_000)), 'ERR_CATALOG_INVALID'],
    ['string without maxLength', mutate((d) => void delete d.types[0]!.fields[0]!.maxLength), 'ERR_CATALOG_INVALID'],
    ['huge enum', mutate((d) => void (d.types[0]!.fields[7]!.enum = Array.from({ length: 1000 }, (_, i) => `v${i}`))), 'ERR_CATALOG_INVALID'],
    ['alias to no value', mutate((d) => void (d.types[0]!.fields[15]!.aliases = { 很严重: 'catastrophic' })), 'ERR_CATALOG_INVALID'],
    ['natural key naming no field', mutate((d) => void (d.types[0]!.naturalKey = ['nothing'])), 'ERR_CATALOG_INVALID'],
    ['negative type without severity', mutate((d) => void (d.types[1]!.fields = d.types[1]!.fields.filter((f) => f.name !== 'severity'))), 'ERR_CATALOG_INVALID'],
    ['no subject block', mutate((d) => void (d.types[1]!.fields = d.types[1]!.fields.filter((f) => f.name !== 'uscc'))), 'ERR_CATALOG_INVALID'],
    ['unknown member', mutate((d) => void (d.evil = true)), 'ERR_CATALOG_INVALID'],
    ['unknown classification', mutate((d) => void ((d.types[0] as { classification: string }).classification = 'secret')), 'ERR_CATALOG_INVALID'],
    ['lower-case code', mutate((d) => void (d.types[0]!.code = 'xzqz')), 'ERR_CATALOG_INVALID'],
    ['redefines CF', mutate((d) => void (d.types[0]!.code = 'CF')), 'ERR_CATALOG_TYPE_REDEFINED'],
  ];
  for (const [what, d, code] of cases) t.equal(codeOf(() => assertCatalogDraft(d, NATIONAL)), code, what);
  let paths: string[] = [];
  try {
    assertCatalogDraft(mutate((d) => {
      (d.types[0]!.fields[3] as { type: string }).type = 'blob';
      d.types[1]!.naturalKey = ['nothing'];
    }), NATIONAL);
  } catch (e) {
    paths = (e as { details: { path: string }[] }).details.map((p) => p.path);
  }
  t.ok(paths.includes('$.types[0].fields[3].type') && paths.includes('$.types[1].naturalKey'), `both problems reported at once: ${paths.join(', ')}`);
  // a signed document with a redefinition is refused by the reader too, before its types are used
  const hostile = body(1, mutate((d) => void (d.types[0]!.code = 'XK')));
  t.equal(await codeOfAsync(openCatalog(await signCatalog(hostile, hub), opts)), 'ERR_CATALOG_TYPE_REDEFINED');
});

t.test('a reader refuses records of types or serials it does not hold', async (t) => {
  const c = await openCatalog(await signCatalog(body(2), hub), opts);
  const rec = xzqzRecord();
  const now = new Date().toISOString();
  const wire = { id: '0190a0c0-0000-7000-8000-000000000001', type: 'XZQZ', classification: 'public' as const, fields: rec.fields as Record<string, unknown>, createdAt: now, updatedAt: now };

  const unknown = fromWire(wire, '430100', '2026-06-01');
  t.equal(unknown.ok ? 'ok' : unknown.code, 'ERR_UNKNOWN_RECORD_TYPE', 'a node without the catalog');
  t.equal(checkRecords([wire], '430100', '2026-06-01').rejected[0]?.code, 'ERR_UNKNOWN_RECORD_TYPE', 'the hub without the catalog');

  installProvinceCatalog(c.body, c.digest);
  const held = fromWire({ ...wire, provinceCatalog: 2 }, '430100', '2026-06-01');
  t.ok(held.ok, 'serial held');
  const newer = fromWire({ ...wire, provinceCatalog: 3 }, '430100', '2026-06-01');
  t.equal(newer.ok ? 'ok' : newer.code, 'ERR_CATALOG_VERSION_UNKNOWN', 'a serial above the one held');
  t.equal(checkRecords([{ ...wire, provinceCatalog: 5 }], '430100', '2026-06-01').rejected[0]?.code, 'ERR_CATALOG_VERSION_UNKNOWN', 'the hub refuses a serial it never published');
  t.equal(checkRecords([{ ...wire, provinceCatalog: 2 }], '430100', '2026-06-01').valid.length, 1);
});
