/**
 * `credit node user add|list|disable|reset` (the user register, issue 18) and `credit node tokens
 * list|revoke` (service tokens). Each change is made in the node's store beside its config and
 * audited as the operator; a running node sees it on the next request (disable and revoke end live
 * sessions at once).
 */
import { CLASSIFICATIONS, isClassification, type Classification } from '../../protocol/classification.js';
import { ROLES, isRole, type Role } from '../../node/access.js';
import { loadConfig } from '../../node/config.js';
import { listServiceTokens, revokeServiceToken, withNodeStore } from '../../node/service-tokens.js';
import { usersService, type Enrolment } from '../../node/users-service.js';
import { isUserName, USER_NAME_RULE } from '../../server/user-name.js';
import { MUST_CHANGE } from '../../node/users-store.js';
import { cliError } from '../errors.js';
import { command, group, optionalString, requireString, type Io } from './framework.js';

const CONFIG = '  --config FILE      node config';
const USER = '  --user NAME        1–64 letters, digits, . _ @ -';

function userName(values: Record<string, unknown>): string {
  const user = requireString(values as never, 'user');
  if (!isUserName(user)) throw cliError('ERR_USAGE', `--user must be ${USER_NAME_RULE}`);
  return user;
}

/** Runs `fn` with the users service on the node's store, as the command-line operator. */
function withUsers<T>(configFile: string, fn: (users: ReturnType<typeof usersService>, actor: string) => Promise<T>): Promise<T> {
  const config = loadConfig(configFile);
  return withNodeStore(config, (db, audit, actor) => fn(usersService({ db, audit, nodeId: config.nodeId, accounts: config.accounts, totpKey: config.totpKey, clock: () => new Date() }), actor));
}

function printEnrolment(io: Io, e: Enrolment, what: string): void {
  io.stdout(
    [
      `user:        ${e.user}`,
      `password:    ${e.password}`,
      `otpauth URI: ${e.otpauthUri}`,
      `${what}: shown once — hand the password to the user in person and let them scan the URI into an authenticator app (as a QR code, e.g. qrencode -t ansiutf8 '<URI>'). The user must change this password (POST /v1/password) before the first login.`,
      '',
    ].join('\n'),
  );
}

const add = command({
  name: 'add',
  summary: 'add a user: prints the initial password and the TOTP otpauth URI, once',
  usage: '--config FILE --user NAME --role ROLE --clearance CLASS',
  help: [CONFIG, USER, `  --role ROLE        ${ROLES.join(' | ')}`, `  --clearance CLASS  ${CLASSIFICATIONS.join(' | ')}`].join('\n'),
  options: { config: { type: 'string' }, user: { type: 'string' }, role: { type: 'string' }, clearance: { type: 'string' } },
  run: async ({ values, io }) => {
    const user = userName(values);
    const role = requireString(values, 'role');
    const clearance = requireString(values, 'clearance');
    if (!isRole(role)) throw cliError('ERR_USAGE', `--role must be one of ${ROLES.join(', ')}`);
    if (!isClassification(clearance)) throw cliError('ERR_USAGE', `--clearance must be one of ${CLASSIFICATIONS.join(', ')}`);
    const e = await withUsers(requireString(values, 'config'), (users, actor) => users.add(actor, user, role as Role, clearance as Classification));
    printEnrolment(io, e, 'new user');
    return 0;
  },
});

const list = command({
  name: 'list',
  summary: 'list users (name, role, clearance, state, password age)',
  usage: '--config FILE [--json]',
  help: [CONFIG, '  --json             one JSON object a line'].join('\n'),
  options: { config: { type: 'string' }, json: { type: 'boolean' } },
  run: async ({ values, io }) => {
    const rows = await withUsers(requireString(values, 'config'), (users) => users.list());
    if (values.json) for (const r of rows) io.stdout(JSON.stringify(r) + '\n');
    else for (const r of rows) io.stdout(`${r.name}\t${r.role}\t${r.clearance}\t${r.disabled ? 'disabled' : 'active'}\t${r.passwordSetAt === MUST_CHANGE ? 'initial password (to be changed)' : `password set ${r.passwordSetAt}`}\n`);
    return 0;
  },
});

const disable = command({
  name: 'disable',
  summary: "disable a user: refused at once, the user's live sessions included",
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
  summary: 'new password and TOTP secret for a user (enabled and unlocked again, sessions ended); printed once',
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

export const userGroup = group('user', 'the user register: people who log in with password and TOTP (POST /v1/login)', [add, list, disable, reset]);

const tokensList = command({
  name: 'list',
  summary: 'list live service tokens (id, account, role, clearance, expiry)',
  usage: '--config FILE [--all]',
  help: [CONFIG, '  --all              ended ones too'].join('\n'),
  options: { config: { type: 'string' }, all: { type: 'boolean' } },
  run: async ({ values, io }) => {
    const rows = await listServiceTokens(loadConfig(requireString(values, 'config')), values.all === true);
    for (const s of rows) io.stdout(`${s.id}\t${s.user}\t${s.role}\t${s.clearance}\texpires ${s.expiresAt}${s.endedAt ? `\tended ${s.endedAt} (${s.endReason})` : ''}\n`);
    return 0;
  },
});

const tokensRevoke = command({
  name: 'revoke',
  summary: 'revoke a service token by its id (or its jti): refused from its next request',
  usage: '--config FILE --id ID | --jti JTI',
  help: [CONFIG, '  --id ID            as `credit node tokens list` shows it (16 hex digits)', "  --jti JTI          the token's own jti claim"].join('\n'),
  options: { config: { type: 'string' }, id: { type: 'string' }, jti: { type: 'string' } },
  run: async ({ values, io }) => {
    const id = optionalString(values, 'id');
    const ref = id !== undefined ? { id } : { jti: requireString(values, 'jti') };
    const named = 'id' in ref ? ref.id : ref.jti;
    if (!(await revokeServiceToken(loadConfig(requireString(values, 'config')), ref))) throw cliError('ERR_USAGE', `no live service token ${named}`);
    io.stdout(`revoked ${named}\n`);
    return 0;
  },
});

export const tokensGroup = group('tokens', 'service tokens minted by `credit node token`: list, revoke', [tokensList, tokensRevoke]);
