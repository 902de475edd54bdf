/**
 * The hub operator console in a real browser (issue 20 item 5): headless Debian chromium driven by
 * playwright-core against the console on its own TLS listener (the hub's certificate). An operator
 * logs in (password + TOTP), reads the overview (the exchange chart drawn from its JSON), filters
 * the nodes, issues an enrolment token (shown once) and cancels it, revokes a node after the
 * confirmation step and sees it red; an auditor opens the audit viewer, sees 已验证 and an entry's
 * inclusion proof. Each main page is written to test/artifacts/hub-*.png (git-ignored) on every
 * run; any console error, page error, failed request or HTTP error answer fails the test. Without
 * chromium: skipped, except under CI=true (fails).
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { browserMissing, openBrowser } from '../helpers/browser.js';
import { hubConsoleFixture, SESSION_COOKIE } from './console-fixture.js';

const missing = browserMissing();

t.test('hub console in chromium', { skip: missing ?? false }, async (t) => {
  const f = await hubConsoleFixture(t);
  await f.enrolNode('430100', 3, '长沙市');
  await f.enrolNode('430700', 2, '常德市');
  await f.enrolNode('430181', 2, '浏阳市');
  await f.traffic('430100', 12);
  await f.traffic('430700', 5, { refused: 1 });
  const url = await f.console.listen({ host: '127.0.0.1', port: 0 });
  t.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const ops = await f.addUser('ops.jia', 'operator');
  const auditor = await f.addUser('audit.jia', 'auditor');
  const b = await openBrowser(t);
  const { page } = b;
  page.on('dialog', (d) => void d.accept()); // the confirmation of 取消 (data-confirm)

  const logIn = async (name: string, u: { password: string; secret: string }) => {
    await page.goto(`${url}/login`);
    f.advance(30_000); // a TOTP step of its own
    await page.fill('input[name=user]', name);
    await page.fill('input[name=password]', u.password);
    await page.fill('input[name=otp]', await f.otp(u.secret));
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  };

  await page.goto(`${url}/login`);
  await page.waitForSelector('text=动态口令');
  await b.shot('hub-login');

  await logIn('ops.jia', ops);
  t.equal(new URL(page.url()).pathname, '/overview', 'the operator lands on 概览');
  const session = (await b.context.cookies()).find((c) => c.name === SESSION_COOKIE);
  t.match(session, { httpOnly: true, secure: true, sameSite: 'Strict' }, 'session cookie HttpOnly, Secure, SameSite=Strict');
  await page.waitForSelector('#exchange-chart[data-loaded] canvas');
  t.equal(await page.textContent('#count-seen'), '2', 'two nodes seen in the last 24 h');
  await b.shot('hub-overview');

  await page.click('nav >> text=节点');
  await page.waitForSelector('#nodes tr[data-node]');
  t.equal(await page.locator('#nodes tr[data-node]').count(), 3);
  await page.selectOption('select[name=city]', '430100');
  await page.waitForFunction(() => {
    const d = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ getAttribute(n: string): string | null }> } }).document;
    const rows = Array.from(d.querySelectorAll('#nodes tr[data-node]'));
    return rows.length === 2 && rows.every((r) => (r.getAttribute('data-node') ?? '').startsWith('4301'));
  });
  await b.shot('hub-nodes');
  await page.click('#nodes a[href="/nodes/430100"]');
  await page.waitForSelector('#cert-history');
  t.equal(await page.textContent('#node-state'), '在线');
  await b.shot('hub-node');

  await page.click('nav >> text=注册令牌');
  await page.fill('#token-form input[name=node]', '430900');
  await page.fill('#token-form input[name=name]', '益阳市');
  await page.selectOption('#token-form select[name=grade]', '2');
  await Promise.all([page.waitForNavigation(), page.click('#token-form button[type=submit]')]);
  const token = (await page.textContent('#token-value'))?.trim() ?? '';
  t.match(token, /^[A-Za-z0-9_-]{20,}$/, 'the token is shown once');
  t.equal(await page.getAttribute('#tokens tr[data-node="430900"]', 'data-status'), 'outstanding');
  await b.shot('hub-tokens');
  await Promise.all([page.waitForNavigation(), page.click('#tokens tr[data-node="430900"] button:has-text("取消")')]);
  await page.waitForSelector('#cancelled-notice');
  t.equal(await page.getAttribute('#tokens tr[data-node="430900"]', 'data-status'), 'cancelled', 'the token is cancelled');
  t.notOk((await page.content()).includes(token), 'the token is not shown again');

  await page.click('nav >> text=吊销');
  await page.selectOption('#revoke-form select[name=node]', '430700');
  await page.selectOption('#revoke-form select[name=reason]', 'cessationOfOperation');
  await Promise.all([page.waitForNavigation(), page.click('#revoke-form button[type=submit]')]);
  await page.waitForSelector('#revoke-confirm');
  await b.shot('hub-revoke');
  await page.fill('#revoke-confirm input[name=confirm]', '430700');
  await Promise.all([page.waitForNavigation(), page.click('#revoke-confirm button[type=submit]')]);
  t.equal(new URL(page.url()).pathname, '/nodes/430700');
  t.equal(await page.textContent('#node-state'), '已吊销');
  t.match(await page.getAttribute('#node-state', 'class'), /\bred\b/, 'shown red');
  const colour = await page.$eval('#node-state', (el) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(el).backgroundColor);
  t.equal(colour, 'rgb(179, 38, 30)', 'a red badge');
  await b.shot('hub-node-revoked');
  await page.click('nav >> text=节点');
  t.match(await page.getAttribute('#nodes tr[data-node="430700"]', 'class'), /revoked/, 'the register shows it revoked');

  await page.click('nav >> text=数据质量');
  await page.waitForSelector('#ranking');
  await b.shot('hub-quality');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('a[href*="table=ranking"]')]);
  t.match(readFileSync((await download.path())!, 'utf8'), /排名,市州代码,市州/, 'the ranking as CSV');

  await Promise.all([page.waitForNavigation(), page.click('header button:has-text("退出登录")')]);
  t.equal(new URL(page.url()).pathname, '/login');

  await logIn('audit.jia', auditor);
  t.equal(new URL(page.url()).pathname, '/audit', 'the auditor lands on 审计日志');
  t.notOk(await page.$('nav >> text=节点'), 'the auditor sees no operator page');
  if (await page.$('#sign-checkpoint')) await Promise.all([page.waitForNavigation(), page.click('#sign-checkpoint button')]);
  t.equal(await page.textContent('#verified'), '已验证');
  await page.waitForSelector('.chart canvas');
  await page.fill('input[name=action]', 'node.revoke');
  await page.click('form.filters button[type=submit]');
  await page.waitForFunction(() => {
    const d = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ textContent: string | null }> } }).document;
    const rows = Array.from(d.querySelectorAll('#audit-entries tr[data-seq]'));
    return rows.length > 0 && rows.every((r) => (r.textContent ?? '').includes('node.revoke'));
  });
  t.match(await page.textContent('#audit-entries'), /user:ops\.jia/, 'the revocation, by the operator');
  await page.click('#audit-entries tr[data-seq]');
  await page.waitForSelector('#proof-card');
  t.match(await page.textContent('#proof-card h2'), /包含证明\s*已验证/);
  await b.shot('hub-audit');

  t.same(b.problems, [], 'no console error, page error, failed request or HTTP error');
});
