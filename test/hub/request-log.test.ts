/** Hub request logging (issue 17 item 8): polled routes log nothing at info; other requests one line each. */
import t from 'tap';
import { logLines } from '../helpers/log-lines.js';
import { hubFixture } from './fixture.js';

t.test('polls at debug, other requests one info line with route and status', async (t) => {
  const { lines, logStream } = logLines();
  const f = await hubFixture(t, { config: { logLevel: 'info' }, logStream });
  lines.length = 0;
  for (let i = 0; i < 3; i++) {
    t.equal((await f.call(f.anonymous, 'GET', '/v1/protocol')).status, 200);
    t.equal((await f.call(f.anonymous, 'GET', '/healthz')).status, 200);
    t.equal((await f.call(f.anonymous, 'GET', '/v1/crl')).status, 200);
  }
  t.same(lines.filter((l) => /request/.test(String(l.msg))), [], 'no info lines for polls');
  const refused = await f.call(f.anonymous, 'POST', '/v1/enroll', { token: 'x'.repeat(43), csrPem: 'nope' });
  t.ok(refused.status >= 400);
  const req = lines.filter((l) => l.msg === 'request completed');
  t.equal(req.length, 1, 'one line for the enrolment attempt');
  t.match(req[0], { level: 30, req: { method: 'POST', url: '/v1/enroll' }, res: { statusCode: refused.status } });
  t.notOk(lines.some((l) => l.msg === 'incoming request'), 'no "incoming request" lines');
});
