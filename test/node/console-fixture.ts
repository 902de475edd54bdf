/** A node with accounts, a signed audit log and its web console (inject only), and a cookie-keeping console client. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Response } from 'light-my-request';
import type { Classification } from '../../protocol/classification.js';
import type { Role } from '../../node/access.js';
import { buildNodeConsole } from '../../node/console/app.js';
import { accountsFixture, type AccountsFixture } from './accounts-fixture.js';
import { record } from './app-fixture.js';
import { issue, makeCa } from '../helpers/pki.js';

export interface ConsoleClient {
  cookies: Map<string, string>;
  csrf(): string;
  get(url: string, headers?: Record<string, string>): Promise<Response>;
  post(url: string, payload: string | Buffer | Record<string, string>, headers?: Record<string, string>): Promise<Response>;
}

export interface ConsoleFixture extends AccountsFixture {
  console: FastifyInstance;
  caPem: string;
  client(): ConsoleClient;
  /** A client logged in as a new user of `role`. */
  signedIn(name: string, role: Role, clearance: Classification): Promise<ConsoleClient>;
}

/** `tls`: the console gets console.listen.tls (a certificate for localhost and 127.0.0.1 from the test CA), for a real browser. */
/** `config`: more node config keys (e.g. trustProxy, accounts). */
export async function consoleFixture(t: { teardown(fn: () => unknown): void }, o: { tls?: boolean; maxVerifyRange?: number; config?: Record<string, unknown> } = {}): Promise<ConsoleFixture> {
  const ca = makeCa();
  const id = issue(ca, '430100');
  let config: Record<string, unknown> = {};
  if (o.tls) {
    const dir = mkdtempSync(join(tmpdir(), 'console-tls-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'console.pem'), id.certPem);
    writeFileSync(join(dir, 'console.key'), id.keyPem, { mode: 0o600 });
    config = { console: { listen: { host: '127.0.0.1', port: 0, tls: { certFile: join(dir, 'console.pem'), keyFile: join(dir, 'console.key') } } } };
  }
  const f = await accountsFixture(t, { auditSigner: { nodeId: '430100', keyPem: id.keyPem, certPem: id.certPem }, config: { ...config, ...o.config } });
  const app = await buildNodeConsole(f.app, { caPems: [ca.certPem], ...(o.maxVerifyRange ? { maxVerifyRange: o.maxVerifyRange } : {}) });
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
      csrf: () => cookies.get('__Host-credit-csrf-430100') ?? '',
      get: async (url, headers = {}) => keep(await app.inject({ method: 'GET', url, headers: { cookie: cookieHeader(), 'sec-fetch-site': 'same-origin', ...headers } })),
      post: async (url, payload, headers = {}) => {
        const form = typeof payload === 'object' && !Buffer.isBuffer(payload);
        return keep(await app.inject({
          method: 'POST', url,
          headers: { cookie: cookieHeader(), 'sec-fetch-site': 'same-origin', ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}), ...headers },
          payload: form ? new URLSearchParams(payload as Record<string, string>).toString() : payload,
        }));
      },
    };
  };
  return {
    ...f,
    console: app,
    caPem: ca.certPem,
    client,
    signedIn: async (name, role, clearance) => {
      const u = await f.addUser(name, role, clearance);
      const c = client();
      await c.get('/login');
      f.advance(30_000);
      const res = await c.post('/login', { user: name, password: u.password, otp: await f.otp(u.secret), _csrf: c.csrf() });
      if (res.statusCode !== 303) throw new Error(`console login of ${name}: ${res.statusCode} ${res.body.slice(0, 500)}`);
      return c;
    },
  };
}

const CF_LABELS = ['行政相对人名称', '行政相对人类别', '统一社会信用代码', '行政处罚决定书文号', '违法行为类型', '违法事实', '处罚依据', '处罚决定日期', '处罚有效期', '处罚类别', '处罚内容', '罚款金额（万元）', '失信程度', '处罚机关', '处罚机关统一社会信用代码', '数据来源单位', '数据来源单位统一社会信用代码'];

/** A CF table upload of `good` valid rows and one row whose 统一社会信用代码 fails its check digit (line good + 2). */
export function cfCsv(good: number, prefix = 'C'): string {
  const cf = record('CF').fields as Record<string, string | number>;
  const row = (no: string, over: Record<string, string> = {}) => {
    const v: Record<string, string | number> = { ...cf, decisionNo: no, ...over };
    return [v.subjectName, v.subjectCategory, v.uscc, v.decisionNo, v.violationType, v.violationFacts, v.basis, v.decisionDate, v.penaltyValidTo, v.category, `"${String(v.content)}"`, v.fineAmount, '一般', v.authority, v.authorityUscc, v.sourceName, v.sourceUscc].join(',');
  };
  const rows = Array.from({ length: good }, (_, i) => row(`${prefix}-${i + 1}`));
  rows.push(row(`${prefix}-bad`, { uscc: '91430102MA4L0000X0' }));
  return '\uFEFF' + [CF_LABELS.join(','), ...rows].join('\r\n') + '\r\n';
}
