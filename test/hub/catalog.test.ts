/**
 * Issue 14 item 7 (hub side), on both engines: the hub operator publishes a province catalog
 * (hub/catalog-service.ts, what `credit hub catalog publish` runs); the hub serves it signed at
 * GET /v1/catalog, refuses batch records of types it has not published (ERR_UNKNOWN_RECORD_TYPE)
 * and accepts them once it has, and distributes them marked with the serial a reader needs.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { caTrust } from '../../protocol/ca-trust.js';
import { exampleRecord } from '../../protocol/catalog.js';
import { installProvinceCatalog } from '../../protocol/catalog-registry.js';
import { openCatalog } from '../../protocol/catalog-signature.js';
import { RECORD_TYPES_BY_CODE } from '../../protocol/catalog-types.js';
import { uuidv7 } from '../../protocol/crypto.js';
import type { DistributionItem, DistributionPayload, ReceiptPayload, WireRecord } from '../../protocol/exchange.js';
import { publishCatalog } from '../../hub/catalog-service.js';
import { engines } from '../helpers/db.js';
import { hubFixture, type HubFixture, type TestNode } from './fixture.js';

const EXAMPLE = JSON.parse(readFileSync(new URL('../../docs/examples/province-catalog.json', import.meta.url), 'utf8')) as unknown;

async function push(f: HubFixture, node: TestNode, records: WireRecord[]): Promise<ReceiptPayload> {
  const res = await f.call(node.agent, 'POST', '/v1/batches', await f.sealFrom(node, 'batch', { records, withdrawals: [] }));
  if (res.status !== 200) throw new Error(`batch refused: ${res.json.code}`);
  return (await f.openAs<ReceiptPayload>(node, res.json)).payload;
}

function jyyc(): WireRecord {
  const cf = exampleRecord('CF').fields;
  const now = new Date().toISOString();
  return {
    id: uuidv7(), type: 'JYYC', classification: 'public', createdAt: now, updatedAt: now,
    fields: {
      subjectName: '长沙示例餐饮有限公司', subjectCategory: '法人及非法人组织', uscc: cf.uscc, decisionNo: '长市监异〔2026〕15号',
      reason: '未按照规定期限公示年度报告', decisionDate: '2026-07-01', severity: 'ordinary',
      authority: '长沙市市场监督管理局', authorityUscc: cf.authorityUscc, sourceName: '长沙市公共信用信息中心', sourceUscc: cf.sourceUscc,
    },
  };
}

for (const engine of await engines()) {
  t.test(`province catalog at the hub (${engine.name})`, async (t) => {
    t.teardown(() => void installProvinceCatalog(null));
    const f = await hubFixture(t, { engine });
    const ctx = f.hub.app.hubCtx;
    const cs = await f.enrol('430100', 3, { name: '长沙市' });
    const cd = await f.enrol('430700', 2, { name: '常德市' });

    t.test('before anything is published: 404 ERR_CATALOG_NOT_PUBLISHED, records of the types refused', async (t) => {
      const res = await f.call(f.anonymous, 'GET', '/v1/catalog');
      t.equal(res.status, 404);
      t.equal(res.json.code, 'ERR_CATALOG_NOT_PUBLISHED');
      const r = jyyc();
      const p = await push(f, cs, [r]);
      t.same(p.rejected.map((x) => [x.id, x.code]), [[r.id, 'ERR_UNKNOWN_RECORD_TYPE']]);
    });

    t.test('a hostile draft is refused and nothing is stored', async (t) => {
      const draft = structuredClone(EXAMPLE) as { types: { code: string }[] };
      draft.types[0]!.code = 'CF';
      await t.rejects(publishCatalog(ctx.db, draft, ctx.identity, new Date()), { code: 'ERR_CATALOG_TYPE_REDEFINED' });
      await t.rejects(publishCatalog(ctx.db, { title: 'x', types: [{ code: 'ZZ' }] }, ctx.identity, new Date()), { code: 'ERR_CATALOG_INVALID' });
      t.equal(Number((await ctx.db('hub_catalogs').count({ n: '*' }).first())?.n), 0);
    });

    t.test('published: served signed, verifiable with the CA certificate alone', async (t) => {
      const p1 = await publishCatalog(ctx.db, EXAMPLE, ctx.identity, new Date());
      t.equal(p1.serial, 1);
      t.same(p1.types, ['XZQZ', 'JYYC']);
      const res = await f.call(f.anonymous, 'GET', '/v1/catalog');
      t.equal(res.status, 200);
      t.equal(res.headers['x-catalog-serial'], '1');
      const text = JSON.stringify(res.json);
      const c = await openCatalog(text, { trust: caTrust({ caCertPems: [f.caCertPem] }), nationalCodes: new Set(RECORD_TYPES_BY_CODE.keys()), hubNodeId: '430000', now: new Date() });
      t.equal(c.body.serial, 1);
      t.equal(c.body.province, '430000');
      const p2 = await publishCatalog(ctx.db, { ...(EXAMPLE as object), title: '第二版' }, ctx.identity, new Date());
      t.equal(p2.serial, 2, 'the serial only increases');
      t.equal((await f.call(f.anonymous, 'GET', '/v1/catalog')).headers['x-catalog-serial'], '2');
    });

    t.test('records of a published type are accepted and distributed with the serial they need', async (t) => {
      const r = jyyc();
      const p = await push(f, cs, [r, { ...jyyc(), provinceCatalog: 7 }]);
      t.same(p.accepted, [r.id]);
      t.same(p.rejected.map((x) => x.code), ['ERR_CATALOG_VERSION_UNKNOWN'], 'a serial the hub never published');
      const res = await f.call(cd.agent, 'GET', '/v1/distributions?after=0');
      const items = (await f.openAs<DistributionPayload>(cd, res.json)).payload.items;
      const got = items.find((i): i is Extract<DistributionItem, { kind: 'record' }> => i.kind === 'record' && i.record.id === r.id);
      t.ok(got, 'distributed to 常德');
      t.equal(got?.record.provinceCatalog, 2, 'marked with the hub serial');
    });

    t.test('a catalog this process has not loaded yet (published by another) counts for the next batch', async (t) => {
      // each batch with records reads the published head first (syncProvinceCatalog)
      installProvinceCatalog(null);
      const r = jyyc();
      const p = await push(f, cs, [r]);
      t.same(p.accepted, [r.id]);
      t.same(p.rejected, []);
      const stored = await ctx.db('hub_records').where({ id: r.id }).first();
      t.ok(stored, 'stored');
      t.match(String(stored.fields), /^CFE1\./, 'sealed at rest');
    });
  });
}
