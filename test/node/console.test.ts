/**
 * The node's web console through inject() (issue 20): login with both factors into a __Host-
 * session cookie, CSRF double submit, the Content-Security-Policy, the session rules of /v1
 * (logout, idle, disable), the fragments (import result and rejected rows, subject search masked
 * as the API masks, audit range verification and inclusion proof), and the role checks.
 */
import t from 'tap';
import { cfCsv, consoleFixture } from './console-fixture.js';
import { KEEP_REPORTS_PER_SESSION, reportStore } from '../../node/console/record-pages.js';

const SCRIPT_TAG = /<script\b[^>]*>/g;

t.test('login: CSRF, both factors, the session cookie', async (t) => {
  const f = await consoleFixture(t);
  const u = await f.addUser('clerk', 'submitter', 'shared');
  const c = f.client();
  const page = await c.get('/login');
  t.equal(page.statusCode, 200);
  t.match(page.headers['content-security-policy'], /script-src 'self'/);
  t.notMatch(page.headers['content-security-policy'], /unsafe-inline|unsafe-eval/);
  t.equal(page.headers['x-frame-options'], 'DENY');
  t.equal(page.headers['cache-control'], 'no-store');
  for (const tag of page.body.match(SCRIPT_TAG) ?? []) t.match(tag, /src="\/static\//, `no inline script: ${tag}`);
  t.notMatch(page.body, /\sstyle=/, 'no inline style');
  t.match(String(page.headers['set-cookie']), /^__Host-credit-csrf-430100=[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=Strict/);
  t.ok(page.body.includes(`value="${c.csrf()}"`), 'the form carries the token');

  f.advance(30_000);
  const creds = { user: 'clerk', password: u.password, otp: await f.otp(u.secret) };
  const noToken = await c.post('/login', creds);
  t.equal(noToken.statusCode, 403);
  t.match(noToken.body, /ERR_CSRF_INVALID/);
  const wrongToken = await c.post('/login', { ...creds, _csrf: 'x'.repeat(43) });
  t.equal(wrongToken.statusCode, 403);
  t.match(wrongToken.body, /ERR_CSRF_INVALID/);
  const foreign = f.client(); // another browser's token, without the cookie it belongs to
  const noCookie = await foreign.post('/login', { ...creds, _csrf: c.csrf() });
  t.equal(noCookie.statusCode, 403);

  const wrongOtp = await c.post('/login', { ...creds, otp: '000000', _csrf: c.csrf() });
  t.equal(wrongOtp.statusCode, 401);
  t.match(wrongOtp.body, /ERR_LOGIN_FAILED/);
  t.notOk(c.cookies.has('__Host-credit-session-430100'));

  const ok = await c.post('/login', { ...creds, _csrf: c.csrf() });
  t.equal(ok.statusCode, 303);
  t.equal(ok.headers.location, '/import', 'a submitter lands on 数据上报');
  t.match(String(ok.headers['set-cookie']), /__Host-credit-session-430100=[^;]+; Path=\/; Secure; HttpOnly; SameSite=Strict; Max-Age=\d+/);
  const home = await c.get('/import');
  t.equal(home.statusCode, 200);
  t.match(home.body, /数据上报/);
  t.match(home.body, /clerk · 报送员/);
  t.notMatch(home.body, /审计日志/, 'the nav shows only what the role may use');

  const replay = f.client();
  await replay.get('/login');
  const again = await replay.post('/login', { ...creds, _csrf: replay.csrf() });
  t.equal(again.statusCode, 401, 'the same TOTP code twice: refused');
});

t.test('no session, or a session the node ended: back to the login page with the code', async (t) => {
  const f = await consoleFixture(t);
  const anon = f.client();
  const r = await anon.get('/audit');
  t.equal(r.statusCode, 303);
  t.equal(r.headers.location, '/login');
  const hx = await anon.get('/audit/entries', { 'hx-request': 'true' });
  t.equal(hx.statusCode, 401);
  t.equal(hx.headers['hx-redirect'], '/login');
  const forged = await anon.get('/import', { cookie: '__Host-credit-session-430100=eyJhbGciOiJIUzI1NiJ9.e30.x', authorization: 'Bearer whatever' });
  t.equal(forged.statusCode, 303);
  t.equal(forged.headers.location, '/login?code=ERR_AUTH_INVALID');
  t.match(String(forged.headers['set-cookie']), /__Host-credit-session-430100=; .*Max-Age=0/, 'the bad cookie is cleared');

  const c = await f.signedIn('clerk', 'officer', 'internal');
  const out = await c.post('/logout', { _csrf: c.csrf() });
  t.equal(out.statusCode, 303);
  t.notOk(c.cookies.has('__Host-credit-session-430100'), 'cookie cleared');
  const token = (await f.db('node_sessions').where({ user_name: 'clerk' }).first()) as { ended_at: string | null; end_reason: string };
  t.equal(token.end_reason, 'logout', 'the server-side session ended');

  const idle = await f.signedIn('idle', 'officer', 'internal');
  f.advance(16 * 60_000);
  const late = await idle.get('/subjects');
  t.equal(late.headers.location, '/login?code=ERR_SESSION_ENDED', 'idle timeout of /v1 applies');

  const gone = await f.signedIn('gone', 'query', 'public');
  await f.users.disable('cli:test@host', 'gone');
  const after = await gone.get('/subjects');
  t.equal(after.headers.location, '/login?code=ERR_SESSION_ENDED', 'a disabled user is out at once');
  const login = await f.client().get('/login?code=ERR_SESSION_ENDED');
  t.match(login.body, /会话已结束.*\[ERR_SESSION_ENDED\]/);
});

t.test('import: upload, the rejected-row count, the rejected rows file, CSRF on the upload', async (t) => {
  const f = await consoleFixture(t);
  const c = await f.signedIn('clerk', 'submitter', 'shared');
  const body = cfCsv(3);
  const noCsrf = await c.post('/import?type=CF', body, { 'content-type': 'text/csv', 'hx-request': 'true' });
  t.equal(noCsrf.statusCode, 403);
  t.match(noCsrf.body, /^<p class="error"[^>]*data-code="ERR_CSRF_INVALID"/, 'an htmx request gets a fragment');
  t.equal(await f.db('node_records').count({ n: '*' }).first().then((r) => Number(r!.n)), 0, 'nothing stored');

  const res = await c.post('/import?type=CF&name=cf.csv', body, { 'content-type': 'text/csv', 'x-csrf-token': c.csrf(), 'hx-request': 'true' });
  t.equal(res.statusCode, 200);
  t.match(res.body, /<b id="count-accepted">3<\/b>/);
  t.match(res.body, /<b id="count-rejected" class="overdue">1<\/b>/);
  t.match(res.body, /统一社会信用代码.*\[ERR_INVALID_USCC\]|ERR_INVALID_USCC/);
  const id = /data-import-id="([^"]+)"/.exec(res.body)![1]!;
  const file = await c.get(`/import/${id}/rejected.csv`);
  t.equal(file.statusCode, 200);
  t.match(file.headers['content-disposition'], /attachment; filename="rejected-/);
  t.match(file.body, /C-bad/, 'the rejected row, to fix and upload again');
  t.notMatch(file.body, /C-1\b/);
  const xlsx = await c.get(`/import/${id}/rejected.xlsx`);
  t.equal(xlsx.statusCode, 200);
  t.equal(xlsx.rawPayload.subarray(0, 2).toString(), 'PK');
  const other = await f.signedIn('other', 'submitter', 'shared');
  const foreign = await other.get(`/import/${id}/rejected.csv`);
  t.equal(foreign.statusCode, 410, "another session cannot fetch this session's rejected rows");
  t.match(foreign.body, /\[ERR_IMPORT_REPORT_GONE\]/);

  const again = await c.post('/import?type=CF', body, { 'content-type': 'text/csv', 'x-csrf-token': c.csrf(), 'hx-request': 'true' });
  t.match(again.body, /<b id="count-duplicates">3<\/b>/, 're-upload: the stored rows are duplicates');
  const wrongType = await c.post('/import?type=XK', body, { 'content-type': 'text/csv', 'x-csrf-token': c.csrf(), 'hx-request': 'true' });
  t.equal(wrongType.statusCode, 422);
  t.match(wrongType.body, /ERR_IMPORT_HEADER_INVALID/);
  const imports = await f.db('audit_log').where({ action: 'record.import', actor: 'user:clerk' });
  t.ok(imports.length >= 1 && imports.every((e: { reason: string }) => / src=127\.0\.0\.1 sid=/.test(e.reason)), 'audited with the clerk\'s address and session, as on /v1');
});

t.test('subject search: exactly what the API answers the same user', async (t) => {
  const f = await consoleFixture(t);
  const officer = await f.auth('officer', 'internal');
  const made = await f.app.inject({ method: 'POST', url: '/v1/records', headers: officer, payload: [{ ...(await import('./app-fixture.js')).record('CF', { subjectCategory: '自然人', idType: '身份证', idNumber: '430102199001011234' }) }] });
  const fields = (await import('./app-fixture.js')).record('CF').fields as Record<string, string>;
  t.ok([200, 201, 422].includes(made.statusCode), made.body);
  const code = made.statusCode === 422 ? fields.uscc! : (made.json().records?.[0] ? (await f.app.inject({ url: `/v1/records/${made.json().records[0].id}`, headers: officer })).json().subject : fields.uscc!);
  const u = await f.addUser('q', 'query', 'public');
  const c = await f.signedIn('q2', 'query', 'public');
  const viaApi = await f.app.inject({ url: `/v1/subjects/${encodeURIComponent(code)}`, headers: await f.session('q', u.password, u.secret) });
  t.equal(viaApi.statusCode, 200);
  const frag = await c.get(`/subjects/results?code=${encodeURIComponent(code)}`, { 'hx-request': 'true' });
  t.equal(frag.statusCode, 200);
  t.notMatch(frag.body, /<html/, 'a fragment, not a page');
  const api = viaApi.json() as { subject: string; records: { subject: string; masked: boolean; fields: Record<string, unknown> }[] };
  t.ok(frag.body.includes(api.subject), 'the subject as the API shows it');
  for (const r of api.records) {
    if (typeof r.fields.subjectName === 'string') t.ok(frag.body.includes(r.fields.subjectName), 'names as the API shows them');
    if (r.masked) t.match(frag.body, /已脱敏/);
  }
  t.notOk(frag.body.includes('430102199001011234'), 'no unmasked identifier');
  const denied = await (await f.signedIn('sub', 'submitter', 'shared')).get(`/subjects/results?code=${encodeURIComponent(code)}`, { 'hx-request': 'true' });
  t.equal(denied.statusCode, 403);
  t.match(denied.body, /ERR_ROLE_DENIED/);
  const pdf = await c.get(`/subjects/${encodeURIComponent(code)}/report.pdf`);
  t.ok([200, 503].includes(pdf.statusCode), `report: ${pdf.statusCode}`);
  if (pdf.statusCode === 200) t.equal(pdf.rawPayload.subarray(0, 4).toString(), '%PDF');
});

t.test('audit viewer: auditor only; the range verifies; an inclusion proof; the export', async (t) => {
  const f = await consoleFixture(t);
  const a = await f.signedIn('aud', 'auditor', 'internal');
  const unsigned = await a.get('/audit');
  t.equal(unsigned.statusCode, 200);
  t.match(unsigned.body, /id="sign-checkpoint"/, 'no checkpoint yet: the page offers to sign one (a view signs nothing)');
  t.equal((await a.post('/audit/checkpoint', { _csrf: a.csrf() })).statusCode, 303);
  const page = await a.get('/audit');
  t.equal(page.statusCode, 200);
  t.match(page.body, /<span class="state green" id="verified">已验证<\/span>/);
  t.match(page.body, /data-series="\{/, 'the chart data (uPlot draws it)');
  t.match(page.body, /\/static\/uplot-[\d.]+\.min\.js/);
  const frag = await a.get('/audit/entries?action=user.login', { 'hx-request': 'true' });
  t.equal(frag.statusCode, 200);
  t.match(frag.body, /已验证/);
  t.notMatch(frag.body, /user\.add</, 'filtered by action');
  const seq = /data-seq="(\d+)"/.exec(frag.body)![1]!;
  const proof = await a.get(`/audit/proof/${seq}`, { 'hx-request': 'true' });
  t.equal(proof.statusCode, 200);
  t.match(proof.body, new RegExp(`第 ${seq} 条的包含证明\\s*<span class="state green">已验证`));
  t.match(proof.body, /signed by a trusted signer/);
  const bundle = await a.get('/audit/export.ndjson');
  t.equal(bundle.statusCode, 200);
  t.match(bundle.body.split('\n')[0], /"type":"header"/);
  t.ok((await f.db('audit_log').where({ action: 'audit.export', actor: 'user:aud' })).length === 1, 'the export is audited by the API');
  const none = await a.get('/audit/entries?actor=nobody', { 'hx-request': 'true' });
  t.match(none.body, /没有符合条件的记录/);

  const clerk = await f.signedIn('clerk', 'officer', 'internal');
  const denied = await clerk.get('/audit');
  t.equal(denied.statusCode, 403);
  t.match(denied.body, /当前角色无权使用此功能 \[ERR_ROLE_DENIED\]/);
  t.equal((await clerk.get('/audit/proof/1')).statusCode, 403);
  t.ok((await f.db('audit_log').where({ action: 'access.denied', actor: 'user:clerk' }).orWhere({ actor: 'user:clerk', outcome: 'failure' })).length >= 1, 'the denial is audited');
});

t.test('static assets: vendored files only, long-cached', async (t) => {
  const f = await consoleFixture(t);
  const c = f.client();
  const login = await c.get('/login');
  const htmx = /src="(\/static\/htmx-[^"]+)"/.exec(login.body)![1]!;
  const js = await c.get(htmx);
  t.equal(js.statusCode, 200);
  t.match(js.headers['content-type'], /text\/javascript/);
  t.match(js.headers['cache-control'], /max-age/);
  t.equal((await c.get('/static/..%2Fpackage.json')).statusCode, 404);
  t.equal((await c.get('/static/console.css')).statusCode, 200);
  const missing = await c.get('/nowhere');
  t.equal(missing.statusCode, 404);
  t.match(missing.body, /页面不存在 \[ERR_ROUTE_NOT_FOUND\]/);
});

t.test('POST /import: only the streamed types, role and CSRF checked before the body is read; 64 KB elsewhere', async (t) => {
  const f = await consoleFixture(t);
  const a = await f.signedIn('aud', 'auditor', 'internal');
  const big = `x=${'a'.repeat(1024 * 1024)}`;
  const form = await a.post('/import?type=CF', big, { 'content-type': 'application/x-www-form-urlencoded', 'x-csrf-token': a.csrf() });
  t.equal(form.statusCode, 415, 'a form body is not read into memory');
  t.match(form.body, /\[ERR_UNSUPPORTED_MEDIA_TYPE\]/);
  const json = await a.post('/import?type=CF', `{"a":"${'b'.repeat(1024 * 1024)}"}`, { 'content-type': 'application/json', 'x-csrf-token': a.csrf() });
  t.equal(json.statusCode, 415);
  const role = await a.post('/import?type=CF', cfCsv(1), { 'content-type': 'text/csv', 'x-csrf-token': a.csrf() });
  t.equal(role.statusCode, 403);
  t.match(role.body, /\[ERR_ROLE_DENIED\]/, 'an auditor may not upload');
  const c = await f.signedIn('clerk', 'submitter', 'shared');
  const noHeader = await c.post('/import?type=CF', cfCsv(1), { 'content-type': 'text/csv' });
  t.equal(noHeader.statusCode, 403);
  t.match(noHeader.body, /\[ERR_CSRF_INVALID\]/);
  const logout = await c.post('/logout', big, { 'content-type': 'application/x-www-form-urlencoded' });
  t.equal(logout.statusCode, 413, 'every buffering parser keeps the 64 KB limit');
  t.match(logout.body, /\[ERR_BODY_TOO_LARGE\]/);
});

t.test('cookies named per console; CSRF token rotated at login and bound to the session; audited reads only from the console', async (t) => {
  const f = await consoleFixture(t);
  const u = await f.addUser('quser', 'query', 'internal');
  const c = f.client();
  await c.get('/login');
  const before = c.csrf();
  t.match(before, /^[A-Za-z0-9_-]{43}$/);
  f.advance(30_000);
  const ok = await c.post('/login', { user: 'quser', password: u.password, otp: await f.otp(u.secret), _csrf: before });
  t.equal(ok.statusCode, 303);
  t.ok(c.cookies.has('__Host-credit-session-430100'), 'the session cookie carries the node id');
  t.not(c.csrf(), before, 'the CSRF token is rotated at login');
  const page = await c.get('/subjects');
  t.ok(page.body.includes(`content="${c.csrf()}"`), 'the page renders the bound token');
  // a token planted by a sibling (same host, other port): a valid-looking double submit, not bound to this session
  const planted = 'p'.repeat(43);
  c.cookies.set('__Host-credit-csrf-430100', planted);
  const forged = await c.post('/logout', { _csrf: planted });
  t.equal(forged.statusCode, 403);
  t.match(forged.body, /\[ERR_CSRF_INVALID\]/);
  const other = await f.signedIn('quser2', 'query', 'internal');
  const crossed = await c.post('/logout', { _csrf: other.csrf() });
  t.equal(crossed.statusCode, 403, "another session's token does not fit");

  const reads = async () => Number((await f.db('audit_log').where({ action: 'record.read' }).orWhere({ action: 'record.search' }).count({ n: '*' }).first())!.n);
  const n0 = await reads();
  for (const site of ['cross-site', 'same-site', undefined]) {
    const headers: Record<string, string> = site ? { 'sec-fetch-site': site } : { 'sec-fetch-site': '' };
    const r = await c.get('/subjects?code=91430100MA4L00000X&purpose=test', headers);
    t.equal(r.statusCode, 403, `subject search with Sec-Fetch-Site ${site ?? 'missing'}`);
    t.match(r.body, /\[ERR_CSRF_INVALID\]/);
    t.equal((await c.get('/subjects/91430100MA4L00000X/report.pdf', headers)).statusCode, 403, 'the report PDF too');
  }
  t.equal(await reads(), n0, 'a refused cross-site read reads nothing');
  t.notMatch((await c.get('/subjects?code=91430100MA4L00000X', { 'sec-fetch-site': 'none' })).body, /ERR_CSRF_INVALID/, 'typed into the address bar: allowed');
  const aud = await f.signedIn('aud', 'auditor', 'internal');
  t.equal((await aud.get('/audit', { 'sec-fetch-site': 'same-site' })).statusCode, 403, 'the audit viewer too');
  t.equal((await aud.get('/audit/export.ndjson', { 'sec-fetch-site': 'cross-site' })).statusCode, 403, 'and the export (it signs a checkpoint)');
});

t.test('a new login ends the session of the cookie presented', async (t) => {
  const f = await consoleFixture(t);
  const c = await f.signedIn('first', 'officer', 'internal');
  const u = await f.addUser('second', 'query', 'internal');
  f.advance(30_000);
  const res = await c.post('/login', { user: 'second', password: u.password, otp: await f.otp(u.secret), _csrf: c.csrf() });
  t.equal(res.statusCode, 303);
  const old = (await f.db('node_sessions').where({ user_name: 'first' }).first()) as { ended_at: string | null; end_reason: string | null };
  t.ok(old.ended_at, 'the previous session ended');
  t.equal(old.end_reason, 'logout');
  const now = (await f.db('node_sessions').where({ user_name: 'second' }).first()) as { ended_at: string | null };
  t.equal(now.ended_at, null, 'the new one is live');
});

t.test('the audit viewer audits its views (aggregated), verifies at most maxVerifyRange entries, signs nothing on GET', async (t) => {
  const f = await consoleFixture(t, { maxVerifyRange: 3 });
  const a = await f.signedIn('aud', 'auditor', 'internal');
  const checkpoints = async () => Number((await f.db('audit_checkpoints').count({ n: '*' }).first())!.n);
  const cp0 = await checkpoints();
  const views = async () => (await f.db('audit_log').where({ action: 'audit.read', actor: 'user:aud' }).select('reason')) as { reason: string }[];
  const page = await a.get('/audit');
  t.equal(page.statusCode, 200);
  t.match(page.body, /id="range-too-large"/, 'more entries than the cap: not verified, said so');
  t.match(page.body, /href="\/audit\/export\.ndjson\?from=1&amp;to=\d+"/, 'the export is offered');
  t.equal(await checkpoints(), cp0, 'a page view signs no checkpoint');
  await a.get('/audit/entries?actor=user:nobody', { 'hx-request': 'true' });
  await a.get('/audit/entries?actor=user:nobody', { 'hx-request': 'true' });
  await a.get('/audit/proof/1', { 'hx-request': 'true' });
  t.equal(await checkpoints(), cp0, 'nor does a proof');
  const v = await views();
  t.equal(v.length, 3, 'one entry per distinct view; the repeat is only counted');
  t.match(v.map((e) => e.reason).join('\n'), /actor=user:nobody/);
  t.match(v.map((e) => e.reason).join('\n'), /\/audit\/proof\/1/);
  await f.console.close();
  const agg = (await f.db('audit_log').where({ action: 'audit.read.aggregate', actor: 'user:aud' }).select('reason')) as { reason: string }[];
  t.match(agg.map((e) => e.reason).join('\n'), /actor=user:nobody.* count=1 /, 'the repeat is written as an aggregate');
});

t.test('rejected-row reports: a few per session, then ERR_IMPORT_REPORT_GONE; a byte cap over all', async (t) => {
  const f = await consoleFixture(t);
  const c = await f.signedIn('clerk', 'submitter', 'shared');
  const ids: string[] = [];
  for (let i = 0; i < KEEP_REPORTS_PER_SESSION + 1; i++) {
    const res = await c.post('/import?type=CF', cfCsv(1, `R${i}`), { 'content-type': 'text/csv', 'x-csrf-token': c.csrf() });
    ids.push(/data-import-id="([^"]+)"/.exec(res.body)![1]!);
  }
  const gone = await c.get(`/import/${ids[0]}/rejected.csv`);
  t.equal(gone.statusCode, 410);
  t.match(gone.body, /\[ERR_IMPORT_REPORT_GONE\]/);
  t.equal((await c.get(`/import/${ids.at(-1)}/rejected.csv`)).statusCode, 200);

  const store = reportStore(2, 2000);
  const report = (id: string, pad: number) => ({ importId: id, rejectedLines: [{ line: 2, raw: 'x'.repeat(pad) }] }) as never;
  store.put('s1', report('a', 800));
  store.put('s2', report('b', 800));
  store.put('s3', report('c', 800));
  t.ok(store.bytes <= 2000, 'the global cap holds');
  t.equal(store.get('s1', 'a'), undefined, 'the oldest of all went first');
  t.ok(store.get('s3', 'c'));
  store.put('s3', report('huge', 5000));
  t.equal(store.get('s3', 'huge'), undefined, 'a report above the cap is not kept');
});
