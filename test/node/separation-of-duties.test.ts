/**
 * 三权分立 (issue 18 item 2, GB/T 22239-2019 §8.1.4.2): the auditor exports the audit log and gets
 * 403 on every record route; sysadmin manages users and cannot read records; secadmin sets roles
 * and clearances and cannot read records. Every /v1 route the OpenAPI document lists is tried, so
 * a route added later is covered too.
 */
import t from 'tap';
import { verifyBundle } from '../../audit/index.js';
import { makeCa, issue } from '../helpers/pki.js';
import { ROLE_ACTIONS, ADMIN_ROLES } from '../../node/access.js';
import { accountsFixture } from './accounts-fixture.js';
import { record } from './app-fixture.js';

/** Where each admin role may go (everything else under /v1 is 403 for it). */
const ALLOWED: Record<string, string[]> = {
  auditor: ['POST /v1/logout', 'GET /v1/audit/export', 'GET /v1/exchange/status', 'GET /v1/quality'],
  sysadmin: ['POST /v1/logout', 'GET /v1/users', 'POST /v1/users/{name}/disable', 'GET /v1/sessions'],
  secadmin: ['POST /v1/logout', 'GET /v1/users', 'POST /v1/users/{name}/authorize'],
};

t.test('the admin roles hold no record action, and no role holds two admin duties', async (t) => {
  for (const role of ADMIN_ROLES) t.notOk(ROLE_ACTIONS[role].some((a) => a.startsWith('record.') || a === 'objection.resolve'), `${role}: no record action`);
  const duties = { sysadmin: 'user.manage', secadmin: 'user.authorize', auditor: 'audit.read' } as const;
  for (const [role, actions] of Object.entries(ROLE_ACTIONS)) {
    t.ok(Object.values(duties).filter((d) => (actions as readonly string[]).includes(d)).length <= 1, `${role} holds at most one admin duty`);
  }
});

t.test('auditor, sysadmin and secadmin: 403 on every record route; their own routes work', async (t) => {
  const ca = makeCa();
  const id = issue(ca, '430100');
  const f = await accountsFixture(t, { auditSigner: { nodeId: '430100', keyPem: id.keyPem, certPem: id.certPem } });
  const officer = await f.auth('officer', 'internal');
  const made = await f.app.inject({ method: 'POST', url: '/v1/records', headers: officer, payload: record('CF', {}, 'restricted') });
  const recordId = made.json().records[0].id as string;
  const doc = (await f.app.inject({ url: '/docs/json', headers: officer })).json() as { paths: Record<string, Record<string, unknown>> };
  const routes = Object.entries(doc.paths).filter(([p]) => p.startsWith('/v1/')).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
  t.ok(routes.length >= 15, `${routes.length} routes under /v1`);
  for (const must of ['GET /v1/records/{id}', 'GET /v1/subjects/{code}', 'POST /v1/records', 'POST /v1/records/import', 'POST /v1/records/{id}/withdraw', 'GET /v1/records/{id}/versions']) t.ok(routes.includes(must), `the list includes ${must}`);

  const people: Record<string, { authorization: string }> = {};
  for (const role of ADMIN_ROLES) {
    const u = await f.addUser(`${role}-1`, role, 'internal');
    people[role] = await f.session(`${role}-1`, u.password, u.secret);
  }
  let minute = 0;
  for (const role of ADMIN_ROLES) {
    for (const route of routes) {
      if (ALLOWED[role]!.includes(route) || route === 'POST /v1/login' || route === 'POST /v1/password') continue;
      const [method, path] = route.split(' ') as ['GET' | 'POST', string];
      const url = path.replace('{id}', recordId).replace('{code}', record('CF').fields.uscc as string).replace('{name}', 'someone');
      f.setNow(new Date(Date.parse('2026-11-28T08:00:00.000Z') + ++minute * 60_000).toISOString());
      const res = await f.app.inject({ method, url: `${url}${url.includes('?') ? '&' : '?'}purpose=x`, headers: people[role]!, ...(method === 'POST' ? { payload: {} } : {}) });
      t.equal(res.statusCode, 403, `${role}: ${route}`);
      t.equal(res.json().code, 'ERR_ROLE_DENIED', `${role}: ${route}`);
    }
  }
  t.notOk(f.events.some((e) => e.action === 'record.read' && /^user:(auditor|sysadmin|secadmin)-1$/.test(e.actor)), 'no record released to an admin role');

  // the auditor's own routes: the signed export bundle verifies offline
  const exported = await f.app.inject({ url: '/v1/audit/export', headers: people.auditor! });
  t.equal(exported.statusCode, 200, 'the auditor exports the audit log');
  t.match(exported.headers['content-type'], /application\/x-ndjson/);
  const report = await verifyBundle(exported.body, ca.certPem, { node: '430100' });
  t.equal(report.ok, true, 'the bundle verifies with only the CA certificate');
  t.ok(f.events.some((e) => e.action === 'audit.export' && e.actor === 'user:auditor-1'), 'the export itself is audited');
  for (const role of ['officer', 'query', 'submitter'] as const) {
    const res = await f.app.inject({ url: '/v1/audit/export', headers: await f.auth(role, 'internal') });
    t.equal(res.json().code, 'ERR_ROLE_DENIED', `${role} may not export the audit log`);
  }
  // sysadmin: users, no secrets
  const list = await f.app.inject({ url: '/v1/users', headers: people.sysadmin! });
  t.equal(list.statusCode, 200);
  t.notOk(/argon2|totp|secret|password_hash/i.test(list.body), 'no hashes or TOTP secrets in the listing');
  const target = await f.addUser('clerk', 'query', 'public');
  const clerk = await f.session('clerk', target.password, target.secret);
  t.equal((await f.app.inject({ method: 'POST', url: '/v1/users/clerk/disable', headers: people.sysadmin! })).json().sessionsEnded, 1, 'sysadmin disables a user');
  t.equal((await f.app.inject({ url: `/v1/subjects/${record('CF').fields.uscc as string}`, headers: clerk })).json().code, 'ERR_SESSION_ENDED');
  t.equal((await f.app.inject({ method: 'POST', url: '/v1/users/clerk/authorize', headers: people.sysadmin!, payload: { role: 'officer', clearance: 'internal' } })).json().code, 'ERR_ROLE_DENIED', 'sysadmin does not grant roles');
  // secadmin: roles and clearances, not its own
  const granted = await f.app.inject({ method: 'POST', url: '/v1/users/clerk/authorize', headers: people.secadmin!, payload: { role: 'officer', clearance: 'restricted' } });
  t.equal(granted.statusCode, 200);
  t.match(granted.json(), { name: 'clerk', role: 'officer', clearance: 'restricted' });
  const self = await f.app.inject({ method: 'POST', url: '/v1/users/secadmin-1/authorize', headers: people.secadmin!, payload: { role: 'secadmin', clearance: 'internal' } });
  t.equal(self.json().code, 'ERR_ROLE_DENIED', 'not its own role');
  t.equal((await f.app.inject({ method: 'POST', url: '/v1/users/nobody/disable', headers: people.sysadmin! })).json().code, 'ERR_USER_NOT_FOUND');
});

t.test('secadmin cannot grant, take away or change an admin duty (ERR_ROLE_ADMIN_DUTY)', async (t) => {
  const f = await accountsFixture(t);
  const people: Record<string, { authorization: string }> = {};
  for (const role of ADMIN_ROLES) {
    const u = await f.addUser(`${role}-1`, role, 'internal');
    people[role] = await f.session(`${role}-1`, u.password, u.secret);
  }
  await f.addUser('mate', 'query', 'public');
  const cases: [string, string, string][] = [
    ['a colluding user made a second secadmin', 'mate', 'secadmin'],
    ['a colluding user made sysadmin', 'mate', 'sysadmin'],
    ['a colluding user made auditor', 'mate', 'auditor'],
    ['the auditor demoted', 'auditor-1', 'query'],
    ['the sysadmin given record access', 'sysadmin-1', 'officer'],
    ['the sysadmin made auditor', 'sysadmin-1', 'auditor'],
  ];
  for (const [what, name, role] of cases) {
    const res = await f.app.inject({ method: 'POST', url: `/v1/users/${name}/authorize`, headers: people.secadmin!, payload: { role, clearance: 'restricted' } });
    t.equal(res.statusCode, 403, what);
    t.equal(res.json().code, 'ERR_ROLE_ADMIN_DUTY', what);
  }
  const rows = await f.db('node_users').whereIn('name', ['mate', 'auditor-1', 'sysadmin-1']).orderBy('name');
  t.same(rows.map((r) => [r.name, r.role, r.clearance]), [['auditor-1', 'auditor', 'internal'], ['mate', 'query', 'public'], ['sysadmin-1', 'sysadmin', 'internal']], 'nothing changed');
  t.ok(f.events.some((e) => e.action === 'user.authorize' && e.outcome === 'failure' && e.reason === 'ERR_ROLE_ADMIN_DUTY'), 'the refusal is audited');
  t.equal((await f.app.inject({ method: 'POST', url: '/v1/users/mate/authorize', headers: people.secadmin!, payload: { role: 'officer', clearance: 'internal' } })).statusCode, 200, 'a non-admin role is still granted');
});
