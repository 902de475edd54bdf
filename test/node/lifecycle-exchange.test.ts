/**
 * A record's life across the province (issue 15), in process, on both engines: a real hub and
 * three city nodes (长沙 430100 grade 3, 常德 430700 grade 2, 浏阳 430181 grade 2) over mutual TLS
 * on loopback, their loops running. Done-when items held here:
 *  - correct after withdraw: one active record, the corrected one, at every node and at the hub;
 *  - only the owner changes a record: a withdrawal or correction at another node is refused;
 *  - a minor (轻微) record and a minor's record stay at their node;
 *  - a record past its disclosure window is served by no route, the disclosure job stopped.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hubFields, hubFieldsChanged, nodeFields, nodeFieldsChanged } from '../helpers/at-rest.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import { exampleRecord } from '../../protocol/catalog.js';
import type { Classification } from '../../protocol/classification.js';
import { makeResidentId } from '../../protocol/identifiers.js';
import { todayInChina } from '../../protocol/catalog-calendar.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { buildHubConfig, makeToken, startHub, type RunningHub } from '../../hub/index.js';
import { buildApp } from '../../node/app.js';
import type { Role } from '../../node/access.js';
import { enrollNode } from '../../node/exchange/enroll.js';
import { mintServiceToken } from '../../node/tokens.js';
import { engines, type Engine } from '../helpers/db.js';
import { eventually, nodeConfig } from './exchange-fixture.js';

const FAST = { pollIntervalMs: 100, batchMaxAgeMs: 20, checkpointIntervalMs: 60_000 };
const SUBJECT = exampleRecord('CF').fields.uscc as string;

interface City {
  nodeId: string;
  app: FastifyInstance;
  db: Knex;
  auth(role: Role, clearance: Classification): Promise<{ authorization: string }>;
}

function daysFrom(date: Date, days: number): Date {
  return new Date(date.getTime() + days * 86_400_000);
}

async function province(t: { teardown(fn: () => unknown): void }, engine: Engine) {
  const dir = mkdtempSync(join(tmpdir(), 'lifecycle-'));
  const caDir = join(dir, 'ca');
  const { certPem: caCertPem } = await initCaDir(caDir, { cn: 'Test Provincial Credit CA (lifecycle)' });
  writeFileSync(join(dir, 'ca.pem'), caCertPem);
  const clock = () => new Date();
  const stores: { close(): Promise<void> }[] = [];
  const hubStore = await engine.open();
  stores.push(hubStore);
  const config = buildHubConfig({ dataDir: join(dir, 'hub'), caDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent' }, {});
  const hub: RunningHub = await startHub({ config, db: hubStore.db, clock });
  const cities: City[] = [];
  t.teardown(async () => {
    for (const c of cities) await c.app.close();
    await hub.close();
    for (const s of stores) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    hub,
    hubDb: hubStore.db,
    clock,
    async city(nodeId: string, grade: number): Promise<City> {
      const dataDir = join(dir, `node-${nodeId}`, 'data');
      const token = (await makeToken(hubStore.db, hub.app.hubCtx.ca, { nodeId, grade, ttlMs: 3_600_000 })).token;
      await enrollNode({ dataDir, nodeId, hubUrl: hub.url, token, caCertPem });
      const store = await engine.open();
      stores.push(store);
      const cfg = nodeConfig(dataDir, { url: hub.url, ...FAST }, nodeId);
      const app = await buildApp({ config: cfg, db: store.db, clock });
      await app.ready();
      const c: City = {
        nodeId, app, db: store.db,
        auth: async (role, clearance) => ({ authorization: `Bearer ${(await mintServiceToken(store.db, cfg.jwtSecret, nodeId, { user: `${role}-${nodeId}`, role, clearance, ttlSeconds: 3600 })).token}` }),
      };
      cities.push(c);
      return c;
    },
  };
}

function cf(decisionNo: string, fields: Record<string, unknown> = {}, classification?: Classification) {
  return { type: 'CF', ...(classification ? { classification } : {}), fields: { ...exampleRecord('CF').fields, decisionNo, ...fields } };
}

async function post(c: City, body: unknown) {
  return c.app.inject({ method: 'POST', url: '/v1/records', headers: await c.auth('submitter', 'internal'), payload: body as object });
}

/** The copies `c` holds of `sourceNode`'s records with this decision number. */
async function copies(c: City, sourceNode: string, decisionNo: string) {
  return (await c.db('node_records').where({ source_node: sourceNode }).andWhere('natural_key', 'like', `%${decisionNo}%`)) as { id: string; status: string; version: number; fields: string; class: string }[];
}

for (const engine of await engines()) {
  t.test(`${engine.name}: a record's life across three cities`, async (t) => {
    const p = await province(t, engine);
    const changsha = await p.city('430100', 3);
    const changde = await p.city('430700', 2);
    const liuyang = await p.city('430181', 2);
    const others = [changde, liuyang];

    await t.test('correct after withdraw: one active record, the corrected one, everywhere', async (t) => {
      const created = await post(changsha, cf('长市监处罚〔2026〕901号'));
      t.equal(created.statusCode, 201);
      const id = created.json().records[0].id as string;
      for (const c of others) await eventually(`${c.nodeId} to hold the record`, async () => ((await copies(c, '430100', '901号')).length === 1 ? true : undefined));

      const w = await changsha.app.inject({ method: 'POST', url: `/v1/records/${id}/withdraw`, headers: await changsha.auth('officer', 'internal'), payload: { reason: 'correction', note: '文书号下的罚款金额有误' } });
      t.equal(w.statusCode, 200);
      for (const c of others) await eventually(`${c.nodeId} to withdraw its copy`, async () => ((await copies(c, '430100', '901号'))[0]?.status === 'withdrawn' ? true : undefined));

      const corrected = await post(changsha, cf('长市监处罚〔2026〕901号', { fineAmount: 0.3, content: '未按规定公示食品经营许可证，罚款人民币叁仟元' }));
      t.equal(corrected.statusCode, 200);
      t.same(corrected.json(), { accepted: 0, duplicates: 0, versions: 1, records: [{ index: 0, id, duplicate: false, outcome: 'version', version: 2, status: 'active' }] }, 'the re-submission is version 2 of the same record, active again');

      for (const c of [changsha, ...others]) {
        const rows = await eventually(`${c.nodeId} to hold version 2`, async () => {
          const r = await copies(c, '430100', '901号');
          return r.length === 1 && Number(r[0]!.version) === 2 && r[0]!.status === 'active' ? r : undefined;
        });
        t.equal(rows[0]!.id, id, `${c.nodeId}: one record, same id`);
        t.equal(nodeFields(c.db, rows[0]!).fineAmount, 0.3, `${c.nodeId}: the corrected content`);
      }
      const atHub = await p.hubDb('hub_records').where({ source_node: '430100', id });
      t.same(atHub.map((r: { status: string; version: number }) => [r.status, Number(r.version)]), [['active', 2]], 'the hub holds version 2, active');

      const v = await changsha.app.inject({ method: 'GET', url: `/v1/records/${id}/versions`, headers: await changsha.auth('officer', 'internal') });
      t.equal(v.statusCode, 200);
      t.match(v.json(), { id, current: 2, versions: [{ version: 1, reason: 'created' }, { version: 2, reason: 'correction', changedBy: 'user:submitter-430100' }] }, 'both versions kept with who and why');
      const atChangde = await changde.app.inject({ method: 'GET', url: `/v1/records/${id}/versions`, headers: await changde.auth('officer', 'internal') });
      t.match(atChangde.json(), { current: 2, versions: [{ version: 1 }, { version: 2, changedBy: 'node:430100' }] }, 'a receiving node keeps the versions too');
      const audited = await changde.db('audit_log').where({ action: 'record.version', object: id });
      t.equal(audited.length, 1, 'the version is audited where it is applied');

      const q = await changde.app.inject({ method: 'GET', url: `/v1/subjects/${SUBJECT}?scope=province`, headers: await changde.auth('query', 'shared') });
      const found = (q.json().records as { id: string; fields: { fineAmount: number } }[]).filter((r) => r.id === id);
      t.same(found.map((r) => r.fields.fineAmount), [0.3], 'the province query answers the corrected record, once');
    });

    await t.test('only the owner changes a record (谁认定、谁修复)', async (t) => {
      const id = (await copies(changde, '430100', '901号'))[0]!.id;
      const w = await changde.app.inject({ method: 'POST', url: `/v1/records/${id}/withdraw`, headers: await changde.auth('officer', 'internal'), payload: { reason: 'correction' } });
      t.equal(w.statusCode, 403);
      t.equal(w.json().code, 'ERR_NOT_RECORD_OWNER');
      const c = await changde.app.inject({ method: 'POST', url: `/v1/records/${id}/corrections`, headers: await changde.auth('submitter', 'internal'), payload: { fields: { ...exampleRecord('CF').fields, decisionNo: '长市监处罚〔2026〕901号', fineAmount: 9 } } });
      t.equal(c.statusCode, 403);
      t.equal(c.json().code, 'ERR_NOT_RECORD_OWNER');
      t.equal((await copies(changde, '430100', '901号'))[0]!.status, 'active', 'nothing changed');
      const own = await changsha.app.inject({ method: 'POST', url: `/v1/records/${id}/corrections`, headers: await changsha.auth('submitter', 'internal'), payload: { fields: { ...exampleRecord('CF').fields, decisionNo: '长市监处罚〔2026〕901号', fineAmount: 0.4 }, note: '再次更正' } });
      t.equal(own.statusCode, 200);
      t.match(own.json(), { versions: 1, records: [{ id, version: 3 }] }, 'the owner corrects by id');
      await eventually('常德 to hold version 3', async () => (Number((await copies(changde, '430100', '901号'))[0]!.version) === 3 ? true : undefined));
    });

    await t.test('a minor record and a minor\'s record stay home', async (t) => {
      const child = makeResidentId({ division: '430102', birth: '2010-05-01', seq: 7 });
      const minorRecord = cf('长市监处罚〔2026〕902号', { severity: 'minor', decisionDate: '2026-10-20' });
      const minorsRecord = cf('长市监处罚〔2026〕903号', { subjectCategory: '自然人', subjectName: '李小明', uscc: undefined, legalRep: undefined, idType: '身份证', idNumber: child });
      const marker = cf('长市监处罚〔2026〕904号');
      const res = await post(changsha, [minorRecord, minorsRecord, marker]);
      t.equal(res.statusCode, 201);
      const stored = await changsha.db('node_records').whereIn('id', res.json().records.map((r: { id: string }) => r.id)).orderBy('natural_key');
      t.same(stored.map((r: { class: string }) => r.class), ['internal', 'internal', 'public'], 'minor → internal, minor person → internal, the rest as submitted');
      // the public record submitted with them travels; once it has arrived, the other two would have too
      for (const c of others) await eventually(`${c.nodeId} to hold the marker`, async () => ((await copies(c, '430100', '904号')).length === 1 ? true : undefined));
      for (const c of others) {
        t.equal((await copies(c, '430100', '902号')).length, 0, `${c.nodeId}: no minor record`);
        t.equal((await copies(c, '430100', '903号')).length, 0, `${c.nodeId}: no minor's record`);
      }
      const atHub = await p.hubDb('hub_records').where({ source_node: '430100' });
      t.ok(atHub.length > 0, 'the hub holds 430100\'s other records');
      t.equal(atHub.filter((r: { source_node: string; id: string; fields: string }) => /90[23]号/.test(String(hubFields(p.hubDb, r).decisionNo))).length, 0, 'nor the hub');
    });

    await t.test('a record past its window is served by no route, the disclosure job stopped', async (t) => {
      const now = p.clock();
      const res = await post(changsha, cf('长市监处罚〔2026〕905号', { decisionDate: todayInChina(daysFrom(now, -300)), disclosureEnd: todayInChina(now) }));
      t.equal(res.statusCode, 201);
      const id = res.json().records[0].id as string;
      for (const c of others) await eventually(`${c.nodeId} to hold the record`, async () => ((await copies(c, '430100', '905号')).length === 1 ? true : undefined));

      // Time passes for this record: its window ends yesterday, in every store (the hub's copy and
      // every node's), while the rows stay active — the disclosure job is stopped (intervalMinutes 0:
      // it ran only at start). The envelopes' clocks are real time, so the record is moved, not the clocks.
      const yesterday = todayInChina(daysFrom(now, -1));
      const decided = todayInChina(daysFrom(now, -330));
      // the rows are sealed at rest: opened, changed and sealed again with each store's key
      const aged = { decisionDate: decided, disclosureEnd: yesterday };
      const hubRow = await p.hubDb('hub_records').where({ source_node: '430100', id }).first();
      await p.hubDb('hub_records').where({ source_node: '430100', id }).update(hubFieldsChanged(p.hubDb, hubRow, aged));
      for (const c of [changsha, ...others]) {
        const row = await c.db('node_records').where({ id }).first();
        await c.db('node_records').where({ id }).update({ ...nodeFieldsChanged(c.db, row, aged), decision_date: decided, disclosure_end: yesterday });
      }

      for (const c of [changsha, ...others]) {
        t.equal((await copies(c, '430100', '905号'))[0]!.status, 'active', `${c.nodeId}: the stored row is still active (job stopped)`);
        const get = await c.app.inject({ method: 'GET', url: `/v1/records/${id}`, headers: await c.auth('query', 'shared') });
        t.equal(get.statusCode, 404, `${c.nodeId}: GET by id does not serve it`);
        const asOfficer = await c.app.inject({ method: 'GET', url: `/v1/records/${id}`, headers: await c.auth('officer', 'shared') });
        t.match(asOfficer.json(), { status: 'withdrawn', withdrawnReason: 'expired' }, `${c.nodeId}: an officer sees it expired`);
        const local = await c.app.inject({ method: 'GET', url: `/v1/subjects/${SUBJECT}`, headers: await c.auth('query', 'shared') });
        t.notOk((local.json().records as { id: string }[]).some((r) => r.id === id), `${c.nodeId}: not in the subject view`);
        const prov = await c.app.inject({ method: 'GET', url: `/v1/subjects/${SUBJECT}?scope=province`, headers: await c.auth('query', 'shared') });
        t.equal(prov.statusCode, 200, JSON.stringify(prov.json()));
        t.notOk((prov.json().records as { id: string }[]).some((r) => r.id === id), `${c.nodeId}: not in the province answer`);
      }
      // a node that joins now is not sent its content
      const late = await p.city('431081', 2);
      await eventually('资兴 to hold the corrected record', async () => ((await copies(late, '430100', '901号')).length === 1 ? true : undefined));
      t.equal((await copies(late, '430100', '905号')).length, 0, 'the expired record is not distributed');

      const again = await post(changsha, cf('长市监处罚〔2026〕906号', { decisionDate: decided, disclosureEnd: yesterday }));
      t.equal(again.statusCode, 201);
      t.equal(again.json().records[0].status, 'withdrawn', 'a record whose window already ended is stored expired');
      t.equal((await changsha.db('node_outbox').where({ record_id: again.json().records[0].id })).length, 0, 'and never queued for the hub');
    });
  });
}
