/** A hub with operator accounts and its operator console (inject, or listening for a real browser), and a cookie-keeping console client. */
import type { FastifyInstance } from 'fastify';
import type { Response } from 'light-my-request';
import type { HubRole } from '../../hub/accounts.js';
import { buildHubConsole } from '../../hub/console/app.js';
import { hubAccountsFixture, type HubAccountsFixture } from './accounts-fixture.js';
import type { Engine } from '../helpers/db.js';
import { randomUUID } from 'node:crypto';
import { createNodeKeys } from '../../certs/node-keys.js';
import { makeToken } from '../../hub/enrolment-service.js';
import { envelopesStore } from '../../hub/envelopes-store.js';
import { nodesStore } from '../../hub/nodes-store.js';
import { qualityStore } from '../../hub/quality-store.js';
import { monthInChina, QualityTally } from '../../protocol/quality-facts.js';

export const SESSION_COOKIE = '__Host-credit-session-430000';
export const CSRF_COOKIE = '__Host-credit-csrf-430000';

export interface ConsoleClient {
  cookies: Map<string, string>;
  csrf(): string;
  get(url: string, headers?: Record<string, string>): Promise<Response>;
  post(url: string, payload: string | Record<string, string>, headers?: Record<string, string>): Promise<Response>;
}

export interface HubConsoleFixture extends HubAccountsFixture {
  console: FastifyInstance;
  client(): ConsoleClient;
  /** A client logged in as a new account of `role`. */
  signedIn(name: string, role: HubRole): Promise<ConsoleClient>;
  /** Enrols a node through the real POST /v1/enroll (a token, a CSR); resolves with its certificate serial. */
  enrolNode(nodeId: string, grade: number, name: string): Promise<string>;
  /** Marks a node's contact and counts `batches` accepted envelopes from it over the last hours, as intake does. */
  traffic(nodeId: string, batches: number, o?: { refused?: number }): Promise<void>;
}

/** `sm3`: the hub's audit log on SM (an SM2 root in caDir, `audit.hashAlg: "sm3"`). */
/** `config`: more hub config keys (e.g. trustProxy, accounts). */
export async function hubConsoleFixture(t: { teardown(fn: () => unknown): void }, o: { engine?: Engine; sm3?: boolean; config?: Record<string, unknown> } = {}): Promise<HubConsoleFixture> {
  const f = await hubAccountsFixture(t, {
    ...(o.engine ? { engine: o.engine } : {}),
    ...(o.sm3 ? { sm2: true } : {}),
    config: { console: { listen: { host: '127.0.0.1', port: 0 } }, ...(o.sm3 ? { audit: { hashAlg: 'sm3' } } : {}), ...o.config },
  });
  const app = await buildHubConsole(f.app);
  t.teardown(() => app.close());
  const client = (): ConsoleClient => {
    const cookies = new Map<string, string>();
    const keep = (res: Response) => {
      const set = res.headers['set-cookie'];
      for (const c of set === undefined ? [] : Array.isArray(set) ? set : [set]) {
        const [pair, ...attrs] = c.split('; ');
        const [name, value] = [pair!.slice(0, pair!.indexOf('=')), decodeURIComponent(pair!.slice(pair!.indexOf('=') + 1))];
        if (attrs.includes('Max-Age=0')) cookies.delete(name);
        else cookies.set(name, value);
      }
      return res;
    };
    const cookieHeader = () => [...cookies].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('; ');
    return {
      cookies,
      csrf: () => cookies.get(CSRF_COOKIE) ?? '',
      get: async (url, headers = {}) => keep(await app.inject({ method: 'GET', url, headers: { cookie: cookieHeader(), 'sec-fetch-site': 'same-origin', ...headers } })),
      post: async (url, payload, headers = {}) => {
        const form = typeof payload === 'object';
        return keep(await app.inject({
          method: 'POST', url,
          headers: { cookie: cookieHeader(), 'sec-fetch-site': 'same-origin', ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}), ...headers },
          payload: form ? new URLSearchParams(payload).toString() : payload,
        }));
      },
    };
  };
  const enrolNode: HubConsoleFixture['enrolNode'] = async (nodeId, grade, name) => {
    const { token } = await makeToken(f.db, f.app.hubCtx.ca, { nodeId, grade, ttlMs: 3_600_000, name, now: f.now() });
    const { csrPem } = createNodeKeys(nodeId);
    const res = await f.app.inject({ method: 'POST', url: '/v1/enroll', payload: { token, csrPem } });
    if (res.statusCode !== 200) throw new Error(`enrol ${nodeId}: ${res.statusCode} ${res.body}`);
    return (res.json() as { serial: string }).serial;
  };
  const traffic: HubConsoleFixture['traffic'] = async (nodeId, batches, o = {}) => {
    const now = f.now().getTime();
    let seq = await envelopesStore.lastSeq(f.db, nodeId, 'console-test');
    const put = async (i: number, outcome: string, code: string | null) => {
      const at = new Date(now - (i % 20) * 3_600_000 - 60_000).toISOString();
      await envelopesStore.insert(f.db, { id: randomUUID(), fromNode: nodeId, type: 'batch', seq: ++seq, ts: at, digest: '0'.repeat(64), receivedAt: at, outcome, code, response: null });
    };
    for (let i = 0; i < batches; i++) await put(i, 'accepted', null);
    for (let i = 0; i < (o.refused ?? 0); i++) await put(i, 'refused', 'ERR_SIGNATURE_INVALID');
    await nodesStore.count(f.db, nodeId, new Date(now - 60_000).toISOString(), { batchesIn: batches, recordsIn: batches * 40 });
    // the quality cells intake would have counted for those batches (40 items each, 2 rejected, 1 bad USCC)
    const tally = new QualityTally();
    const items = batches * 40;
    const accepted = items - batches * 2;
    tally.add({ node: nodeId, unit: `${nodeId} 市场监督管理局`, type: 'CF', month: monthInChina(new Date(now).toISOString()) }, {
      submitted: items, accepted, rejected: items - accepted, uscc_bad: batches, timed: accepted, timely: accepted - batches, wd_sum: accepted * 3,
      req_filled: items * 17 - batches, req_slots: items * 17, batches, batches_ok: batches,
    });
    await qualityStore.bump(f.db, tally);
  };
  return {
    ...f,
    enrolNode,
    traffic,
    console: app,
    client,
    signedIn: async (name, role) => {
      const u = await f.addUser(name, role);
      const c = client();
      await c.get('/login');
      f.advance(30_000);
      const res = await c.post('/login', { user: name, password: u.password, otp: await f.otp(u.secret), _csrf: c.csrf() });
      if (res.statusCode !== 303) throw new Error(`console login of ${name}: ${res.statusCode} ${res.body.slice(0, 500)}`);
      return c;
    },
  };
}
