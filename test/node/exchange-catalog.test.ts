/**
 * Issue 14 item 7 end to end, in process over real mutual TLS on loopback: the hub operator
 * publishes the example province catalog; 长沙 fetches and stores it at start, takes a 经营异常名录
 * record through its API, the hub accepts it by receipt, and 常德 receives it with its type.
 * (One process holds one province catalog — protocol/catalog-registry.ts — so hub and nodes here
 * share it; that each node fetched and verified its own copy shows in its data directory and audit log.)
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { exampleRecord } from '../../protocol/catalog.js';
import { installProvinceCatalog } from '../../protocol/catalog-registry.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { buildHubConfig, makeToken, startHub } from '../../hub/index.js';
import { publishCatalog } from '../../hub/catalog-service.js';
import { enrollNode } from '../../node/exchange/enroll.js';
import { provinceCatalogPath } from '../../node/exchange/catalog-sync.js';
import { sqliteEngine } from '../helpers/db.js';
import { eventually, nodeApp, type NodeApp } from './exchange-fixture.js';

const FAST = { pollIntervalMs: 100, batchMaxAgeMs: 20, checkpointIntervalMs: 500 };
const EXAMPLE = JSON.parse(readFileSync(new URL('../../docs/examples/province-catalog.json', import.meta.url), 'utf8')) as unknown;

t.test('a province type travels node → hub → node once the catalog is published', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'node-catalog-it-'));
  const caDir = join(dir, 'ca');
  const { certPem: caCertPem } = await initCaDir(caDir, { cn: 'Test Provincial Credit CA (catalog)' });
  const store = await sqliteEngine.open();
  const config = buildHubConfig({ dataDir: join(dir, 'hub'), caDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent' }, {});
  const hub = await startHub({ config, db: store.db });
  const nodes: NodeApp[] = [];
  t.teardown(async () => {
    for (const n of nodes) await n.close();
    await hub.close();
    await store.close();
    installProvinceCatalog(null);
    rmSync(dir, { recursive: true, force: true });
  });
  const ctx = hub.app.hubCtx;
  const published = await publishCatalog(ctx.db, EXAMPLE, ctx.identity, new Date());
  const node = async (nodeId: string, grade: number) => {
    const dataDir = join(dir, `node-${nodeId}`, 'data');
    const token = (await makeToken(store.db, ctx.ca, { nodeId, grade, ttlMs: 3_600_000 })).token;
    await enrollNode({ dataDir, nodeId, hubUrl: hub.url, token, caCertPem });
    const n = await nodeApp(dataDir, { url: hub.url, ...FAST }, nodeId);
    nodes.push(n);
    return n;
  };
  const changsha = await node('430100', 3);
  const changde = await node('430700', 2);
  for (const n of [changsha, changde]) {
    t.equal(readFileSync(provinceCatalogPath(n.config.dataDir), 'utf8'), published.document, `${n.config.nodeId} stored the signed document at start`);
  }
  t.equal((await changsha.app.nodeCtx.db('audit_log').where({ action: 'catalog.adopt', object: `province-catalog:${published.serial}` })).length, 1, 'adoption audited');

  const st = await changsha.app.inject({ method: 'GET', url: '/v1/exchange/status', headers: await changsha.auth('auditor', 'public') });
  t.match(st.json().provinceCatalog, { serial: 1, types: ['XZQZ', 'JYYC'] }, 'the exchange status names the catalog held');

  const cf = exampleRecord('CF').fields;
  const record = {
    type: 'JYYC',
    fields: {
      企业名称: '长沙示例餐饮有限公司', 主体类别: '法人及非法人组织', 统一社会信用代码: cf.uscc, 列入决定书文号: '长市监异〔2026〕15号',
      列入经营异常名录原因: '通过登记的住所或者经营场所无法联系', 列入日期: '2026-07-01', 失信程度: '一般',
      作出决定机关: '长沙市市场监督管理局', 作出决定机关统一社会信用代码: cf.authorityUscc, 数据来源单位: '长沙市公共信用信息中心', 数据来源单位统一社会信用代码: cf.sourceUscc,
    },
  };
  const post = await changsha.app.inject({ method: 'POST', url: '/v1/records', headers: await changsha.auth('submitter', 'public'), payload: [record] });
  t.equal(post.statusCode, 201, post.body);
  const id = (post.json().records as { id: string }[])[0]!.id;
  const unknown = await changsha.app.inject({ method: 'POST', url: '/v1/records', headers: await changsha.auth('submitter', 'public'), payload: [{ ...record, type: 'QTLX' }] });
  t.match(unknown.body, /ERR_UNKNOWN_RECORD_TYPE/, 'a type in no catalog is refused at the node');

  const atHub = await eventually('the hub to hold the JYYC record', async () => (await store.db('hub_records').where({ id, source_node: '430100' }).first()) ?? undefined);
  t.equal(atHub.type, 'JYYC');
  const received = await eventually('常德 to receive it', async () => (await changde.app.nodeCtx.db('node_records').where({ id }).first()) ?? undefined);
  t.equal(received.type, 'JYYC');
  t.equal(received.source_node, '430100');
  t.ok(existsSync(provinceCatalogPath(changde.config.dataDir)));
});
