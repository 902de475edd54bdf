/**
 * The hub operator console through inject() (issue 20 item 1): login with both factors into a
 * __Host- session cookie (and the must-change-password refusal), CSRF on every change, each page
 * and fragment with the role rules of the API route it stands for (refusals audited), the
 * operator's actions (token issued once and cancelled, revocation only after the node's code is
 * typed) made through the API and audited as there, the audit viewer for the auditor, and the
 * admin duties' accounts page.
 */
import t from 'tap';
import { hubConsoleFixture, CSRF_COOKIE, SESSION_COOKIE } from './console-fixture.js';
import { engines } from '../helpers/db.js';

const SCRIPT_TAG = /<script\b[^>]*>/g;

t.test('login: CSP, CSRF, both factors, the must-change password, landing page per role', async (t) => {
  const f = await hubConsoleFixture(t);
  const u = await f.addUser('ops', 'operator');
  const c = f.client();
  const page = await c.get('/login');
  t.equal(page.statusCode, 200);
  t.match(page.headers['content-security-policy'], /script-src 'self'/);
  t.notMatch(page.headers['content-security-policy'], /unsafe-inline|unsafe-eval/);
  for (const tag of page.body.match(SCRIPT_TAG) ?? []) t.match(tag, /src="\/static\//, `no inline script: ${tag}`);
  t.notMatch(page.body, /\sstyle=/, 'no inline style');
  t.match(String(page.headers['set-cookie']), new RegExp(`^${CSRF_COOKIE}=[A-Za-z0-9_-]{43}; Path=/; Secure; HttpOnly; SameSite=Strict`));
  t.match(page.body, /运维控制台/);

  f.advance(30_000);
  const creds = { user: 'ops', password: u.password, otp: await f.otp(u.secret) };
  const noToken = await c.post('/login', creds);
  t.equal(noToken.statusCode, 403);
  t.match(noToken.body, /ERR_CSRF_INVALID/);
  const wrongOtp = await c.post('/login', { ...creds, otp: '000000', _csrf: c.csrf() });
  t.equal(wrongOtp.statusCode, 401);
  t.match(wrongOtp.body, /ERR_LOGIN_FAILED/);
  t.notOk(c.cookies.has(SESSION_COOKIE));
  const ok = await c.post('/login', { ...creds, _csrf: c.csrf() });
  t.equal(ok.statusCode, 303);
  t.equal(ok.headers.location, '/overview', 'an operator lands on 概览');
  t.match(String(ok.headers['set-cookie']), new RegExp(`${SESSION_COOKIE}=[^;]+; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=\\d+`));
  const home = await c.get('/overview');
  t.equal(home.statusCode, 200);
  t.match(home.body, /ops · 省级运维员/);
  t.notMatch(home.body, /href="\/audit"/, 'the nav shows only what the role may use');

  // a new account must change its initial password first (POST /v1/password): the login page says so
  const fresh = await f.enrol('newops', 'operator');
  const n = f.client();
  await n.get('/login');
  f.advance(30_000);
  const expired = await n.post('/login', { user: 'newops', password: fresh.password, otp: await f.otp(fresh.secret), _csrf: n.csrf() });
  t.equal(expired.statusCode, 403);
  t.match(expired.body, /初始口令.*\[ERR_PASSWORD_EXPIRED\]/s);
  t.match(expired.body, /name="user"[^>]*value="newops"/, 'the form keeps the name');

  for (const [role, home] of [['auditor', '/audit'], ['sysadmin', '/users'], ['secadmin', '/users']] as const) {
    const x = await f.addUser(`u-${role}`, role);
    const xc = f.client();
    await xc.get('/login');
    f.advance(30_000);
    const r = await xc.post('/login', { user: `u-${role}`, password: x.password, otp: await f.otp(x.secret), _csrf: xc.csrf() });
    t.equal(r.headers.location, home, `${role} lands on ${home}`);
  }
});

t.test('no session, or an ended one: back to the login page with the code', async (t) => {
  const f = await hubConsoleFixture(t);
  const anon = f.client();
  const r = await anon.get('/overview');
  t.equal(r.statusCode, 303);
  t.equal(r.headers.location, '/login');
  const hx = await anon.get('/nodes/table', { 'hx-request': 'true' });
  t.equal(hx.statusCode, 401);
  t.equal(hx.headers['hx-redirect'], '/login');
  const forged = await anon.get('/overview', { cookie: `${SESSION_COOKIE}=eyJhbGciOiJIUzI1NiJ9.e30.x` });
  t.equal(forged.headers.location, '/login?code=ERR_AUTH_INVALID');

  const c = await f.signedIn('ops', 'operator');
  const out = await c.post('/logout', { _csrf: c.csrf() });
  t.equal(out.statusCode, 303);
  t.notOk(c.cookies.has(SESSION_COOKIE), 'cookie cleared');
  const s = (await f.db('hub_sessions').where({ user_name: 'ops' }).first()) as { end_reason: string } | undefined;
  t.equal(s?.end_reason, 'logout', 'the server-side session ended');
  const c2 = await f.signedIn('ops2', 'operator');
  const token = c2.cookies.get(SESSION_COOKIE)!;
  await f.users.disable('user:admin', 'ops2');
  const after = await c2.get('/overview', { cookie: `${SESSION_COOKIE}=${encodeURIComponent(token)}` });
  t.equal(after.headers.location, '/login?code=ERR_SESSION_ENDED', 'a disabled operator is out at once');
});

t.test('every page and fragment by role: as the API route it stands for; refusals audited', async (t) => {
  const f = await hubConsoleFixture(t);
  await f.enrolNode('430100', 3, '长沙市');
  const ops = await f.signedIn('ops', 'operator');
  const aud = await f.signedIn('aud', 'auditor');
  const sys = await f.signedIn('sys', 'sysadmin');
  const sec = await f.signedIn('sec', 'secadmin');
  const operatorPages = ['/overview', '/overview/exchange.json', '/nodes', '/nodes/table', '/nodes.csv', '/nodes/430100', '/tokens', '/tokens.csv', '/revoke', '/revoke/confirm?node=430100&reason=keyCompromise', '/quality', '/quality.csv'];
  const auditorPages = ['/audit', '/audit/entries', '/audit/proof/1', '/audit/export.ndjson'];
  const adminPages = ['/users'];
  for (const [who, c, allowed] of [['operator', ops, operatorPages], ['auditor', aud, auditorPages], ['sysadmin', sys, adminPages], ['secadmin', sec, adminPages]] as const) {
    for (const url of [...operatorPages, ...auditorPages, ...adminPages]) {
      const r = await c.get(url, { 'hx-request': 'true' });
      if ((allowed as readonly string[]).includes(url)) t.equal(r.statusCode, 200, `${who} ${url}`);
      else {
        t.equal(r.statusCode, 403, `${who} refused ${url}`);
        t.match(r.body, /\[ERR_ROLE_DENIED\]/);
      }
    }
  }
  const refused = await f.db('audit_log').where({ action: 'request.refused', actor: 'user:aud' });
  t.ok(refused.length >= 1, 'an auditor turned away from an operator page is audited');
  t.match(refused[0], { outcome: 'failure', reason: /ERR_ROLE_DENIED/ });
  t.ok((await f.db('audit_log').where({ action: 'request.refused', actor: 'user:ops' })).length >= 1, 'an operator turned away from the audit viewer is audited');

  // state-changing routes are refused to the other roles before anything happens
  t.equal((await aud.post('/tokens', { node: '430700', grade: '2', ttlHours: '24', _csrf: aud.csrf() })).statusCode, 403);
  t.equal((await sys.post('/nodes/430100/revoke', { reason: 'keyCompromise', confirm: '430100', _csrf: sys.csrf() })).statusCode, 403);
  t.equal((await sec.post('/tokens/cancel', { node: '430100', _csrf: sec.csrf() })).statusCode, 403);
  t.equal((await ops.post('/audit/checkpoint', { _csrf: ops.csrf() })).statusCode, 403);
  t.equal((await sec.post('/users/ops/disable', { _csrf: sec.csrf() })).statusCode, 403, 'secadmin reviews the register, sysadmin disables');
  t.equal((await f.db('hub_tokens').where({ node_id: '430700' })).length, 0, 'no token was made');
  t.equal((await f.db('hub_nodes').where({ node_id: '430100' }).first())?.status, 'active', 'nothing was revoked');

  // the navigation
  t.match((await ops.get('/overview')).body, /href="\/tokens"/);
  const sysPage = await sys.get('/users');
  t.notMatch(sysPage.body, /href="\/nodes"/);
  t.match(sysPage.body, /当前会话/, 'sysadmin sees the sessions');
  t.match(sysPage.body, /action="\/users\/ops\/disable"/, 'and may disable');
  const secPage = await sec.get('/users');
  t.notMatch(secPage.body, /当前会话/, 'secadmin does not (GET /v1/sessions is sysadmin only)');
  t.notMatch(secPage.body, /\/disable"/);
  const dis = await sys.post('/users/ops/disable', { _csrf: sys.csrf() });
  t.equal(dis.statusCode, 303);
  t.ok((await f.db('audit_log').where({ action: 'user.disable', actor: 'user:sys' })).length === 1, 'disable audited as the API does');
});

t.test('CSRF: every change refused without the session-bound token', async (t) => {
  const f = await hubConsoleFixture(t);
  await f.enrolNode('430100', 3, '长沙市');
  const ops = await f.signedIn('ops', 'operator');
  const other = await f.signedIn('ops2', 'operator'); // another session's token is worth nothing
  for (const [url, body] of [
    ['/tokens', { node: '430700', grade: '2', ttlHours: '24' }],
    ['/tokens/cancel', { node: '430100' }],
    ['/nodes/430100/revoke', { reason: 'keyCompromise', confirm: '430100' }],
    ['/logout', {}],
  ] as const) {
    const none = await ops.post(url, body);
    t.equal(none.statusCode, 403, `${url} without a token`);
    t.match(none.body, /ERR_CSRF_INVALID/);
    const foreign = await ops.post(url, { ...body, _csrf: other.csrf() });
    t.equal(foreign.statusCode, 403, `${url} with another session's token`);
  }
  t.equal((await f.db('hub_tokens').where({ node_id: '430700' })).length, 0);
  t.equal((await f.db('hub_nodes').where({ node_id: '430100' }).first())?.status, 'active');
  t.equal((await ops.get('/overview')).statusCode, 200, 'still signed in');
  // audited reads only from within the console
  const aud = await f.signedIn('aud', 'auditor');
  t.equal((await aud.get('/audit/export.ndjson', { 'sec-fetch-site': 'cross-site' })).statusCode, 403);
  t.equal((await aud.get('/audit', { 'sec-fetch-site': 'same-site' })).statusCode, 403);
});

t.test('tokens: issued with grade and TTL, shown once, listed, cancelled; audited as the API does', async (t) => {
  const f = await hubConsoleFixture(t);
  const ops = await f.signedIn('ops', 'operator');
  const bad = await ops.post('/tokens', { node: '43010', grade: '2', ttlHours: '24', _csrf: ops.csrf() });
  t.equal(bad.statusCode, 400);
  t.match(bad.body, /ERR_REQUEST_INVALID/);
  const r = await ops.post('/tokens', { node: '430900', name: '益阳市', grade: '2', ttlHours: '72', _csrf: ops.csrf() });
  t.equal(r.statusCode, 200);
  t.equal(r.headers['cache-control'], 'no-store');
  const token = /id="token-value">([^<]+)</.exec(r.body)?.[1];
  t.match(token, /^[A-Za-z0-9_-]{20,}$/);
  const row = (await f.db('hub_tokens').where({ node_id: '430900' }).first()) as { grade: number; expires_at: string; created_at: string };
  t.equal(row.grade, 2);
  t.equal(Date.parse(row.expires_at) - Date.parse(row.created_at), 72 * 3_600_000, 'the TTL chosen');
  const minted = (await f.db('audit_log').where({ action: 'token.mint' }).first()) as { actor: string; reason: string };
  t.equal(minted.actor, 'user:ops');
  t.match(minted.reason, /grade=2 .*src=\S+ sid=\S+/, 'with the source and session, as on /v1');
  const list = await ops.get('/tokens');
  t.notOk(list.body.includes(token!), 'never shown again');
  t.match(list.body, /data-node="430900" data-status="outstanding"/);
  t.match(list.body, /data-confirm="取消节点 430900/, 'cancel asks for confirmation');
  const cancel = await ops.post('/tokens/cancel', { node: '430900', _csrf: ops.csrf() });
  t.equal(cancel.statusCode, 303);
  t.equal(cancel.headers.location, '/tokens?cancelled=430900&n=1');
  t.match((await ops.get(String(cancel.headers.location))).body, /data-node="430900" data-status="cancelled"/);
  t.notMatch((await ops.get('/tokens?status=outstanding')).body, /data-node="430900"/, 'filtered by state');
  const csv = await ops.get('/tokens.csv?status=cancelled');
  t.match(csv.body, /^\uFEFF令牌编号,节点,等保等级,状态/);
  t.match(csv.body, /,430900,2,已取消,/);
  t.notOk(csv.body.includes(token!), 'never in the export either');
  const cancelled = (await f.db('audit_log').where({ action: 'node.tokens.cancel' }).first()) as { actor: string; reason: string };
  t.equal(cancelled.actor, 'user:ops');
  t.match(cancelled.reason, /cancelled=1 src=/);
});

t.test('revocation: a confirmation step, the node red afterwards, audited with the operator', async (t) => {
  const f = await hubConsoleFixture(t);
  const serial = await f.enrolNode('430700', 2, '常德市');
  const ops = await f.signedIn('ops', 'operator');
  const confirm = await ops.get('/revoke/confirm?node=430700&reason=cessationOfOperation');
  t.equal(confirm.statusCode, 200);
  t.match(confirm.body, /此操作不可撤销/);
  t.match(confirm.body, new RegExp(serial));
  t.equal((await f.db('hub_nodes').where({ node_id: '430700' }).first())?.status, 'active', 'the confirmation page changes nothing');
  const unknown = await ops.get('/revoke/confirm?node=430999&reason=keyCompromise');
  t.equal(unknown.statusCode, 403, 'ERR_NODE_UNKNOWN is 403 at the hub');
  t.match(unknown.body, /ERR_NODE_UNKNOWN/);
  const mistyped = await ops.post('/nodes/430700/revoke', { reason: 'cessationOfOperation', confirm: '430100', _csrf: ops.csrf() });
  t.equal(mistyped.statusCode, 400);
  t.match(mistyped.body, /确认栏须输入节点代码 430700.*\[ERR_REQUEST_INVALID\]/s);
  t.equal((await f.db('hub_nodes').where({ node_id: '430700' }).first())?.status, 'active');
  const done = await ops.post('/nodes/430700/revoke', { reason: 'cessationOfOperation', confirm: '430700', _csrf: ops.csrf() });
  t.equal(done.statusCode, 303);
  t.equal(done.headers.location, '/nodes/430700?revoked=1');
  const node = await ops.get('/nodes/430700?revoked=1');
  t.match(node.body, /<span class="state red" id="node-state">已吊销<\/span>/);
  t.match(node.body, /id="revoked-notice"/);
  const table = await ops.get('/nodes/table?state=revoked', { 'hx-request': 'true' });
  t.match(table.body, /data-node="430700" data-state="revoked" class="revoked"/);
  const cert = (await f.db('hub_certs').where({ serial }).first()) as { status: string; reason: string };
  t.match(cert, { status: 'revoked', reason: 'cessationOfOperation' });
  const e = (await f.db('audit_log').where({ action: 'node.revoke' }).first()) as { actor: string; reason: string };
  t.equal(e.actor, 'user:ops');
  t.match(e.reason, /^cessationOfOperation serials=.* src=\S+ sid=\S+$/);
  t.match((await ops.get('/revoke')).body, /430700/, 'listed among the revoked');
  t.match((await ops.get('/overview')).body, /条目 <b>1<\/b> 个/, 'the CRL holds it');
});

for (const engine of await engines()) t.test(`nodes, overview and quality: filters, the chart JSON, CSV exports (${engine.name})`, async (t) => {
  const f = await hubConsoleFixture(t, { engine });
  await f.enrolNode('430100', 3, '长沙市');
  await f.enrolNode('430181', 2, '浏阳市');
  await f.enrolNode('430700', 2, '常德市');
  await f.traffic('430100', 4, { refused: 1 });
  const ops = await f.signedIn('ops', 'operator');
  const rows = (body: string) => [...body.matchAll(/data-node="(\d{6})"/g)].map((m) => m[1]);
  t.same(rows((await ops.get('/nodes/table?city=430100')).body), ['430100', '430181'], 'by 市州');
  t.same(rows((await ops.get('/nodes/table?grade=2')).body), ['430181', '430700'], 'by grade');
  t.same(rows((await ops.get('/nodes/table?state=active')).body), ['430100'], 'seen in 24 h');
  t.same(rows((await ops.get('/nodes/table?state=silent')).body), ['430181', '430700'], 'enrolled, never seen');
  t.equal((await ops.get('/nodes/table?grade=7')).statusCode, 400);
  const csv = await ops.get('/nodes.csv?city=430700');
  t.match(csv.headers['content-type'], /text\/csv/);
  t.match(csv.body, /^\uFEFF节点代码,名称,等保等级,状态/);
  t.match(csv.body, /430700,常德市,2,24 小时无联络/);
  t.notMatch(csv.body, /430100/);
  const chart = (await ops.get('/overview/exchange.json')).json() as { x: number[]; series: { label: string; y: number[] }[] };
  t.equal(chart.x.length, 24);
  t.same(chart.series.map((s) => s.label), ['已接收批次', '被拒绝', '查询、通知与见证']);
  t.equal(chart.series[0]!.y.reduce((a, b) => a + b, 0), 4);
  t.equal(chart.series[1]!.y.reduce((a, b) => a + b, 0), 1);
  const overview = await ops.get('/overview');
  t.match(overview.body, /id="count-seen">1</);
  t.match(overview.body, /data-series-url="\/overview\/exchange.json"/);
  const node = await ops.get('/nodes/430100');
  t.match(node.body, /\[ERR_SIGNATURE_INVALID\]/, 'refused batches with their code');
  t.match(node.body, /id="cert-history"/);
  t.equal((await ops.get('/nodes/430999')).statusCode, 403);
  const aud = await f.signedIn('aud', 'auditor');
  t.equal((await aud.get('/audit/proof/999999', { 'hx-request': 'true' })).statusCode, 400, 'a proof beyond the log: ERR_AUDIT_RANGE');
  const q = await ops.get('/quality');
  t.match(q.body, /市州月度排名/);
  const qc = await ops.get('/quality.csv?table=units&month=');
  t.match(qc.body, /^\uFEFF节点,数据来源单位,信息类别/);
  t.match(qc.headers['content-disposition'], /quality-units-all\.csv/);
  t.equal((await ops.get('/quality?month=2026-13x')).statusCode, 400);
});

t.test('audit viewer: auditor only; verified range, inclusion proof, export through the API', async (t) => {
  const f = await hubConsoleFixture(t);
  const aud = await f.signedIn('aud', 'auditor');
  const first = await aud.get('/audit');
  t.equal(first.statusCode, 200);
  t.match(first.body, /节点见证副署/);
  t.equal((await aud.post('/audit/checkpoint', { _csrf: aud.csrf() })).statusCode, 303);
  const page = await aud.get('/audit');
  t.match(page.body, /id="verified">已验证</);
  const frag = await aud.get('/audit/entries?action=user.login', { 'hx-request': 'true' });
  t.notMatch(frag.body, /<html/);
  const seq = /data-seq="(\d+)"/.exec(frag.body)?.[1];
  t.ok(seq);
  const proof = await aud.get(`/audit/proof/${seq}`, { 'hx-request': 'true' });
  t.match(proof.body, /包含证明\s*<span class="state green">已验证/);
  const bundle = await aud.get('/audit/export.ndjson');
  t.equal(bundle.statusCode, 200);
  t.match(bundle.headers['content-disposition'], /audit-430000-all-last\.ndjson/);
  t.ok((await f.db('audit_log').where({ action: 'audit.export', actor: 'user:aud' })).length === 1, 'the export is audited by the API');
  t.ok((await f.db('audit_log').where({ action: 'audit.read', actor: 'user:aud' })).length >= 1, 'views are audited');
});

t.test('audit viewer on an SM log (audit.hashAlg sm3): checkpoints signed with the hub SM2 key verify against the SM2 root', async (t) => {
  const f = await hubConsoleFixture(t, { sm3: true });
  const meta = (await f.db('audit_meta').select('*')) as Record<string, unknown>[];
  t.match(JSON.stringify(meta), /sm3/, 'the log is on SM3');
  const aud = await f.signedIn('aud', 'auditor');
  t.equal((await aud.post('/audit/checkpoint', { _csrf: aud.csrf() })).statusCode, 303);
  const page = await aud.get('/audit');
  t.match(page.body, /id="verified">已验证</);
  const seq = /data-seq="(\d+)"/.exec(page.body)?.[1];
  t.match((await aud.get(`/audit/proof/${seq}`, { 'hx-request': 'true' })).body, /包含证明\s*<span class="state green">已验证/);
});

t.test('the token-cancel API route the page stands for: operator only', async (t) => {
  const f = await hubConsoleFixture(t);
  const o = await f.addUser('ops', 'operator');
  const a = await f.addUser('aud', 'auditor');
  const ops = await f.session('ops', o.password, o.secret);
  const aud = await f.session('aud', a.password, a.secret);
  const made = await f.app.inject({ method: 'POST', url: '/v1/operator/tokens', headers: ops, payload: { node: '430900', grade: 2 } });
  t.equal(made.statusCode, 200);
  const denied = await f.app.inject({ method: 'POST', url: '/v1/operator/nodes/430900/tokens/cancel', headers: aud });
  t.equal(denied.statusCode, 403);
  t.equal(denied.json().code, 'ERR_ROLE_DENIED');
  const ok = await f.app.inject({ method: 'POST', url: '/v1/operator/nodes/430900/tokens/cancel', headers: ops });
  t.same(ok.json(), { node: '430900', cancelled: 1 });
  const again = await f.app.inject({ method: 'POST', url: '/v1/operator/nodes/430900/tokens/cancel', headers: ops });
  t.same(again.json(), { node: '430900', cancelled: 0 });
});
