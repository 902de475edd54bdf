/**
 * `credit hub user add|list|disable|reset` (issue 18): the hub's operator accounts, in the hub's
 * existing store (never a new one), each change audited as the command-line operator. A running
 * hub sees a change on the next request (disable and reset end live sessions at once).
 */
import { HUB_ROLES, hubAccounts, hubTotpKey, hubUsersService, isHubRole, HUB_CLEARANCE, type HubRole } from '../../hub/accounts.js';
import { openExistingHubStore } from '../../hub/admin-store.js';
import { loadHubConfig } from '../../hub/config.js';
import { withOperatorAudit } from '../../audit/operator.js';
import { MUST_CHANGE } from '../../server/accounts-store.js';
import { type Enrolment } from '../../server/users-service.js';
import { isUserName, USER_NAME_RULE } from '../../server/user-name.js';
import { cliError } from '../errors.js';
import { command, group, requireString, type Io } from './framework.js';

const CONFIG = '  --config FILE      hub config';
const USER = '  --user NAME        1–64 letters, digits, . _ @ -';

function userName(values: Record<string, unknown>): string {
  const user = requireString(values as never, 'user');
  if (!isUserName(user)) throw cliError('ERR_USAGE', `--user must be ${USER_NAME_RULE}`);
  return user;
}

/** Runs `fn` with the operator register on the hub's existing store, as the command-line operator. */
async function withUsers<T>(configFile: string, fn: (users: ReturnType<typeof hubUsersService>, actor: string) => Promise<T>): Promise<T> {
  const config = loadHubConfig(configFile);
  const totpKey = hubTotpKey(config.dataDir);
  const db = await openExistingHubStore(config);
  try {
    await hubAccounts.sealClearSecrets(db, totpKey);
    return await withOperatorAudit(db, (audit, actor) => fn(hubUsersService({ db, audit, accounts: config.accounts, totpKey, clock: () => new Date() }), actor));
  } finally {
    await db.destroy();
  }
}

function printEnrolment(io: Io, e: Enrolment, what: string): void {
  io.stdout(
    [
      `user:        ${e.user}`,
      `password:    ${e.password}`,
      `otpauth URI: ${e.otpauthUri}`,
      `${what}: shown once — hand the password to the operator in person and let them scan the URI into an authenticator app (as a QR code, e.g. qrencode -t ansiutf8 '<URI>'). The password must be changed (POST /v1/password) before the first login.`,
      '',
    ].join('\n'),
  );
}

const add = command({
  name: 'add',
  summary: 'add an operator account: prints the initial password and the TOTP otpauth URI, once',
  usage: '--config FILE --user NAME --role ROLE',
  help: [CONFIG, USER, `  --role ROLE        ${HUB_ROLES.join(' | ')} (one role per account: the three admin duties are never combined)`].join('\n'),
  options: { config: { type: 'string' }, user: { type: 'string' }, role: { type: 'string' } },
  run: async ({ values, io }) => {
    const user = userName(values);
    const role = requireString(values, 'role');
    if (!isHubRole(role)) throw cliError('ERR_USAGE', `--role must be one of ${HUB_ROLES.join(', ')}`);
    const e = await withUsers(requireString(values, 'config'), (users, actor) => users.add(actor, user, role as HubRole, HUB_CLEARANCE));
    printEnrolment(io, e, 'new operator account');
    return 0;
  },
});

const list = command({
  name: 'list',
  summary: 'list operator accounts (name, role, state, password age)',
  usage: '--config FILE [--json]',
  help: [CONFIG, '  --json             one JSON object a line'].join('\n'),
  options: { config: { type: 'string' }, json: { type: 'boolean' } },
  run: async ({ values, io }) => {
    const rows = (await withUsers(requireString(values, 'config'), (users) => users.list())).map(({ clearance: _none, ...r }) => r);
    if (values.json) for (const r of rows) io.stdout(JSON.stringify(r) + '\n');
    else for (const r of rows) io.stdout(`${r.name}\t${r.role}\t${r.disabled ? 'disabled' : 'active'}\t${r.passwordSetAt === MUST_CHANGE ? 'initial password (to be changed)' : `password set ${r.passwordSetAt}`}\n`);
    return 0;
  },
});

const disable = command({
  name: 'disable',
  summary: "disable an operator account: refused at once, its live sessions included",
  usage: '--config FILE --user NAME',
  help: [CONFIG, USER].join('\n'),
  options: { config: { type: 'string' }, user: { type: 'string' } },
  run: async ({ values, io }) => {
    const user = userName(values);
    const ended = await withUsers(requireString(values, 'config'), (users, actor) => users.disable(actor, user));
    io.stdout(`disabled ${user}; ${ended} live session(s) ended\n`);
    return 0;
  },
});

const reset = command({
  name: 'reset',
  summary: 'new password and TOTP secret for an operator account (enabled and unlocked again, sessions ended); printed once',
  usage: '--config FILE --user NAME',
  help: [CONFIG, USER].join('\n'),
  options: { config: { type: 'string' }, user: { type: 'string' } },
  run: async ({ values, io }) => {
    const user = userName(values);
    const e = await withUsers(requireString(values, 'config'), (users, actor) => users.reset(actor, user));
    printEnrolment(io, e, 'reset');
    return 0;
  },
});

export const hubUserGroup = group('user', 'operator accounts of the hub: people who log in with password and TOTP (POST /v1/login)', [add, list, disable, reset]);
