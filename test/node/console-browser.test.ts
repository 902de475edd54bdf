/**
 * The node console in a real browser (issue 20 item 5): headless Debian chromium driven by
 * playwright-core against the console on its own TLS listener. A clerk logs in (password + TOTP),
 * uploads a CSV and sees the rejected-row count, downloads the rejected rows, searches the
 * subject; an auditor opens the audit viewer, sees 已验证 and an entry's inclusion proof. Each main
 * page is written to test/artifacts/*.png (git-ignored) on every run; any console error, page
 * error, failed request or HTTP error answer fails the test. Without chromium: skipped, except
 * under CI=true (fails).
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { browserMissing, openBrowser } from '../helpers/browser.js';
import { cfCsv, consoleFixture } from './console-fixture.js';

const missing = browserMissing();

t.test('node console in chromium', { skip: missing ?? false }, async (t) => {
  const f = await consoleFixture(t, { tls: true });
  const url = await f.console.listen({ host: '127.0.0.1', port: 0 });
  t.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const clerk = await f.addUser('zhang.san', 'officer', 'internal');
  const auditor = await f.addUser('shenji.jia', 'auditor', 'internal');
  const b = await openBrowser(t);
  const { page } = b;

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
  await b.shot('login');

  await logIn('zhang.san', clerk);
  t.equal(new URL(page.url()).pathname, '/import', 'the clerk lands on 数据上报');
  const cookies = await b.context.cookies();
  const session = cookies.find((c) => c.name === '__Host-credit-session-430100');
  t.ok(session, 'session cookie set');
  t.match(session, { httpOnly: true, secure: true, sameSite: 'Strict' });

  await page.selectOption('select[name=type]', 'CF');
  await page.setInputFiles('input[type=file]', { name: '行政处罚.csv', mimeType: 'text/csv', buffer: Buffer.from(cfCsv(4)) });
  await page.click('#upload button[type=submit]');
  await page.waitForSelector('#count-rejected');
  t.equal(await page.textContent('#count-rejected'), '1', 'the rejected-row count');
  t.equal(await page.textContent('#count-accepted'), '4');
  t.equal(await page.getAttribute('#upload progress', 'data-done'), 'true', 'the progress bar ran to the end');
  await b.shot('import');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('a[href$="rejected.csv"]')]);
  const rejected = readFileSync((await download.path())!, 'utf8');
  t.match(rejected, /C-bad/, 'the rejected rows file holds the bad row');

  const uscc = (await import('./app-fixture.js')).record('CF').fields.uscc as string;
  await page.click('nav >> text=主体查询');
  await page.fill('input[name=code]', uscc);
  await page.click('form.filters button[type=submit]');
  await page.waitForSelector('#subject-results table');
  t.match(await page.textContent('#subject-results h2'), /4 条/);
  await b.shot('subjects');

  await page.click('nav >> text=异议与修复');
  await page.waitForSelector('h1:has-text("异议与修复")');
  await b.shot('queues');
  await page.click('nav >> text=交换状态');
  await page.waitForSelector('h1:has-text("交换状态")');
  await b.shot('exchange');

  await Promise.all([page.waitForNavigation(), page.click('header button:has-text("退出登录")')]);
  t.equal(new URL(page.url()).pathname, '/login');

  await logIn('shenji.jia', auditor);
  t.equal(new URL(page.url()).pathname, '/audit', 'the auditor lands on 审计日志');
  t.equal(await page.textContent('#verified'), '验证未通过', 'no checkpoint yet: a page view signs none');
  await Promise.all([page.waitForNavigation(), page.click('#sign-checkpoint button')]);
  t.equal(await page.textContent('#verified'), '已验证');
  await page.waitForSelector('.chart canvas');
  await page.fill('input[name=action]', 'record.import');
  await page.click('form.filters button[type=submit]');
  await page.waitForFunction(() => {
    // runs in the page (a function, not a string: the CSP forbids eval); the test's TypeScript has no DOM types
    const d = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ textContent: string | null }> } }).document;
    return Array.from(d.querySelectorAll('#audit-entries tr[data-seq]')).every((r) => (r.textContent ?? '').includes('record.import'));
  });
  t.equal(await page.textContent('#verified'), '已验证', 'the filtered range verifies too');
  await page.click('#audit-entries tr[data-seq]');
  await page.waitForSelector('#proof-card');
  t.match(await page.textContent('#proof-card h2'), /包含证明\s*已验证/);
  await b.shot('audit');
  await b.shot('audit-full', { fullPage: true });

  t.same(b.problems, [], 'no console error, page error, failed request or HTTP error');
});
