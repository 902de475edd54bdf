/**
 * Issue 14 item 7 (node side): the node adopts the hub's province catalog only when it verifies
 * and its serial is newer (node/exchange/catalog-sync.ts), stores it in DATADIR/exchange and
 * audits the adoption; a tampered, foreign-signed or replayed older document changes nothing; the
 * stored copy is verified again at start; a page of records needing a serial the node cannot
 * get is not applied (ERR_CATALOG_VERSION_UNKNOWN); `credit catalog list --config` shows where
 * each type comes from. The hub here is a stand-in client serving documents signed by a hub
 * certificate from a per-run CA.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEvent } from '../../audit/types.js';
import { caTrust } from '../../protocol/ca-trust.js';
import { getRecordType } from '../../protocol/catalog.js';
import type { CatalogBody, CatalogDraft } from '../../protocol/catalog-document.js';
import { installProvinceCatalog, provinceSerial } from '../../protocol/catalog-registry.js';
import { signCatalog } from '../../protocol/catalog-signature.js';
import type { DistributionItem } from '../../protocol/exchange.js';
import { createCatalogSync, ensureCatalogFor, installStoredCatalog, provinceCatalogPath } from '../../node/exchange/catalog-sync.js';
import type { HubClient } from '../../node/exchange/hub-client.js';
import type { ExchangeIdentity } from '../../node/exchange/identity.js';
import { main } from '../../scripts/cli.js';
import { issue, makeCa } from '../helpers/pki.js';

const EXAMPLE = JSON.parse(readFileSync(new URL('../../docs/examples/province-catalog.json', import.meta.url), 'utf8')) as CatalogDraft;
const ca = makeCa();
const hub = issue(ca, '430000');
const node = issue(ca, '430100');

function body(serial: number, title = EXAMPLE.title): CatalogBody {
  return { ...structuredClone(EXAMPLE), title, province: '430000', serial, publishedAt: new Date(Date.now() - 1000).toISOString() };
}

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

t.test('the node adopts, stores, refuses and reloads province catalogs', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'catalog-sync-'));
  mkdirSync(join(dir, 'exchange'), { recursive: true });
  writeFileSync(join(dir, 'exchange', 'ca.pem'), ca.certPem);
  t.teardown(() => {
    installProvinceCatalog(null);
    rmSync(dir, { recursive: true, force: true });
  });
  let served: string | null = null;
  const client = { getCatalog: async () => served } as unknown as HubClient;
  const identity = { trust: () => caTrust({ caCertPems: [ca.certPem] }) } as unknown as ExchangeIdentity;
  const events: AuditEvent[] = [];
  const audit = { record: async (e: AuditEvent) => events.push(e), recordIn: async () => 0 };
  const sync = createCatalogSync({ dataDir: dir, identity, client: () => client, audit, clock: () => new Date(), log: quiet });
  const path = provinceCatalogPath(dir);

  t.equal(await sync.refresh(), 0, 'nothing published: nothing held');
  t.notOk(existsSync(path));

  served = await signCatalog(body(1), hub);
  t.equal(await sync.refresh(), 1);
  t.equal(readFileSync(path, 'utf8'), served, 'stored as signed');
  t.equal(getRecordType('JYYC').name, '经营异常名录');
  t.match(events, [{ action: 'catalog.adopt', object: 'province-catalog:1', outcome: 'success' }]);
  t.equal(await sync.refresh(), 1, 'the same document again');
  t.equal(events.length, 1, 'adopted once');

  const v2 = await signCatalog(body(2, '第二版'), hub);
  served = v2;
  t.equal(await sync.refresh(), 2);

  served = await signCatalog(body(1), hub);
  await t.rejects(sync.refresh(), { code: 'ERR_CATALOG_SERIAL_REPLAY' }, 'an older serial replayed');
  served = await signCatalog(body(2, '另一个第二版'), hub);
  await t.rejects(sync.refresh(), { code: 'ERR_CATALOG_SERIAL_REPLAY' }, 'serial 2 with another content');
  const tampered = JSON.parse(await signCatalog(body(3), hub)) as { body: CatalogBody };
  tampered.body.types[1]!.classification = 'restricted';
  served = JSON.stringify(tampered);
  await t.rejects(sync.refresh(), { code: 'ERR_CATALOG_SIGNATURE' }, 'tampered');
  served = await signCatalog(body(3), node);
  await t.rejects(sync.refresh(), { code: 'ERR_CATALOG_SIGNATURE' }, 'signed by a node, not the hub');
  t.equal(provinceSerial(), 2, 'still serial 2');
  t.equal(readFileSync(path, 'utf8'), v2, 'the stored document is unchanged');

  installProvinceCatalog(null);
  t.ok(await sync.loadStored(), 'at start the stored document is verified and installed');
  t.equal(provinceSerial(), 2);
  installProvinceCatalog(null);
  writeFileSync(path, v2.replace('第二版', '第三版'));
  t.notOk(await sync.loadStored(), 'a stored document edited on disk is not used');
  t.equal(provinceSerial(), 0);
  await t.rejects(installStoredCatalog(dir, new Date()), { code: 'ERR_CATALOG_SIGNATURE' });
  writeFileSync(path, v2);
  t.ok(await installStoredCatalog(dir, new Date()));
  t.equal(provinceSerial(), 2);

  t.test('a page needing a newer serial: fetched first; refused when the hub has none', async (t) => {
    const item = (n: number): DistributionItem => ({ cursor: n, kind: 'record', sourceNode: '430700', record: { id: `r${n}`, type: 'JYYC', classification: 'public', fields: {}, createdAt: '', updatedAt: '', provinceCatalog: n } });
    await ensureCatalogFor([item(2)], sync);
    served = v2;
    await t.rejects(ensureCatalogFor([item(2), item(3)], sync), { code: 'ERR_CATALOG_VERSION_UNKNOWN' });
    await t.rejects(ensureCatalogFor([item(3)], undefined), { code: 'ERR_CATALOG_VERSION_UNKNOWN' }, 'no hub to ask');
    served = await signCatalog(body(3), hub);
    await ensureCatalogFor([item(3)], sync);
    t.equal(provinceSerial(), 3, 'fetched the serial the records need');
  });

  t.test('credit catalog list --config shows where each type comes from', async (t) => {
    const cfg = join(dir, 'node.json');
    writeFileSync(cfg, JSON.stringify({ nodeId: '430100', dataDir: dir }));
    installProvinceCatalog(null);
    const out: string[] = [];
    const io = { stdout: (s: string) => void out.push(s), stderr: () => undefined };
    t.equal(await main(['catalog', 'list', '--config', cfg], io), 0);
    const text = out.join('');
    t.match(text, /province supplementary catalog \(地方补充目录\) 430000 serial 3, published \S+Z: 湖南省/);
    t.match(text, /^XZQZ\s+行政强制\s+public 社会公开\s+yes\s+minor 0–3m, ordinary 3–12m, serious 12–36m\s+decisionNo \+ sourceUscc$/m);
    t.match(text, /^JYYC\s+经营异常名录\s+public 社会公开\s+yes\s+ordinary 3–12m/m);
    out.length = 0;
    t.equal(await main(['catalog', 'list', '--config', cfg, '--json'], io), 0);
    const doc = JSON.parse(out.join('')) as { province: { serial: number }; types: { code: string; origin: { source: string; serial?: number } }[] };
    t.equal(doc.province.serial, 3);
    t.same(doc.types.find((x) => x.code === 'CF')!.origin.source, 'national');
    t.match(doc.types.find((x) => x.code === 'XZQZ')!.origin, { source: 'province', serial: 3 });
  });
});
