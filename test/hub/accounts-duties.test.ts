/**
 * Separation of duties on the hub (issue 18, 三权分立): every session route, for every role. The
 * auditor reaches the audit export and nothing else; the sysadmin manages accounts but cannot see
 * nodes, issue enrolment tokens, revoke or read quality (the operator's duty); the secadmin reviews
 * the register; the operator cannot touch accounts or the audit log. A route not listed for a role
 * is refused (ERR_ROLE_DENIED, 403) before its handler runs, and the refusal is audited.
 */
import t from 'tap';
import { HUB_ROLE_ROUTES, HUB_ROLES, type HubRole } from '../../hub/accounts.js';
import { hubAccountsFixture } from './accounts-fixture.js';

/** Every session route of the hub, with a body its schema accepts. */
const ROUTES: { method: 'GET' | 'POST'; url: string; route: string; payload?: unknown }[] = [
  { method: 'GET', url: '/v1/operator/nodes', route: 'GET /v1/operator/nodes' },
  { method: 'GET', url: '/v1/operator/tokens', route: 'GET /v1/operator/tokens' },
  { method: 'POST', url: '/v1/operator/tokens', route: 'POST /v1/operator/tokens', payload: { node: '430700', grade: 2 } },
  { method: 'POST', url: '/v1/operator/nodes/430700/tokens/cancel', route: 'POST /v1/operator/nodes/:node/tokens/cancel' },
  { method: 'POST', url: '/v1/operator/nodes/430700/revoke', route: 'POST /v1/operator/nodes/:node/revoke', payload: {} },
  { method: 'GET', url: '/v1/operator/quality', route: 'GET /v1/operator/quality' },
  { method: 'GET', url: '/v1/users', route: 'GET /v1/users' },
  { method: 'POST', url: '/v1/users/target/disable', route: 'POST /v1/users/:name/disable' },
  { method: 'GET', url: '/v1/sessions', route: 'GET /v1/sessions' },
  { method: 'GET', url: '/v1/audit/export', route: 'GET /v1/audit/export' },
];

const EXPECTED: Record<HubRole, string[]> = {
  operator: ['GET /v1/operator/nodes', 'GET /v1/operator/tokens', 'POST /v1/operator/tokens', 'POST /v1/operator/nodes/:node/tokens/cancel', 'POST /v1/operator/nodes/:node/revoke', 'GET /v1/operator/quality'],
  sysadmin: ['GET /v1/users', 'POST /v1/users/:name/disable', 'GET /v1/sessions'],
  secadmin: ['GET /v1/users'],
  auditor: ['GET /v1/audit/export'],
};

t.test('the route table is what the README says', async (t) => {
  for (const role of HUB_ROLES) t.same([...HUB_ROLE_ROUTES[role]].filter((r) => r !== 'POST /v1/logout').sort(), [...EXPECTED[role]].sort(), role);
});

t.test('each role reaches its routes and gets 403 ERR_ROLE_DENIED on every other one', async (t) => {
  const f = await hubAccountsFixture(t);
  const sessions = {} as Record<HubRole, { authorization: string }>;
  for (const role of HUB_ROLES) {
    const u = await f.addUser(`u-${role}`, role);
    sessions[role] = await f.session(`u-${role}`, u.password, u.secret);
  }
  for (const role of HUB_ROLES) {
    for (const r of ROUTES) {
      if (r.route === 'POST /v1/users/:name/disable') await f.users.add('cli:test@host', 'target', 'operator', 'none').catch(() => undefined);
      const res = await f.app.inject({ method: r.method, url: r.url, headers: sessions[role], ...(r.payload === undefined ? {} : { payload: r.payload as Record<string, unknown> }) });
      if (EXPECTED[role].includes(r.route)) {
        t.not(res.statusCode, 403, `${role} may ${r.route}: ${res.body.slice(0, 200)}`);
        t.ok(res.statusCode < 400, `${role} ${r.route} answered ${res.statusCode} ${res.body.slice(0, 200)}`);
      } else {
        t.equal(res.statusCode, 403, `${role} refused ${r.route}`);
        t.equal(res.json().code, 'ERR_ROLE_DENIED', `${role} ${r.route}`);
      }
    }
    t.equal((await f.app.inject({ method: 'POST', url: '/v1/logout', headers: sessions[role] })).statusCode, 204, `${role} may log out`);
  }
  const denied = await f.db('audit_log').where({ action: 'request.refused' }).andWhere('reason', 'like', 'ERR_ROLE_DENIED%');
  t.ok(denied.length > 0, 'refusals are audited');
  // the sysadmin issued no token and revoked nothing; only the operator's token exists
  const minted = await f.db('audit_log').where({ action: 'token.mint' });
  t.same(minted.map((e: { actor: string }) => e.actor), ['user:u-operator']);
});

t.test('an admin duty is set only by `credit hub user add`: no account holds two', async (t) => {
  const f = await hubAccountsFixture(t);
  await f.enrol('sec', 'secadmin');
  await t.rejects(f.users.authorize('user:other', 'sec', 'operator', 'none'), { code: 'ERR_ROLE_ADMIN_DUTY' });
  await t.rejects(f.users.add('cli:test@host', 'sec', 'auditor', 'none'), { code: 'ERR_USER_EXISTS' });
});
