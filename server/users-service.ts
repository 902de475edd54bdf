/**
 * Managing a user register (issue 18 items 1 and 2), the node's and the hub's alike, for
 * `credit node|hub user …` and the admin routes: add (an initial password, to be changed before the first login, and a TOTP secret, shown once), disable (ends every live
 * session at once), reset (new password and TOTP secret, sessions ended), authorize (role and
 * clearance). One account holds one role, so no account holds two of the three admin duties.
 * Every change is audited by `actor`.
 */
import type { Knex } from 'knex';
import type { AuditEvent } from '../audit/types.js';
import { accountError } from './account-errors.js';
import type { AccountsConfig } from './accounts-config.js';
import { MUST_CHANGE, type AccountsStore, type User } from './accounts-store.js';
import { generatePassword, hashPassword, newTotpSecret, otpauthUri } from './credentials.js';
import { assertUserName } from './user-name.js';

export { USER_NAME_PATTERN } from './user-name.js';

export interface UsersDeps<R extends string, C extends string> {
  db: Knex;
  store: AccountsStore<R, C>;
  audit: { record(e: AuditEvent): Promise<number> };
  /** The server the entries are written by (actorNode). */
  actorNode: string;
  /** The issuer an authenticator app shows (credit-node-430100, credit-hub-430000). */
  issuer: string;
  /** The three admin duties (sysadmin, secadmin, auditor): set only when a user is added. */
  adminRoles: readonly R[];
  /** The command that sets them, for the ERR_ROLE_ADMIN_DUTY message. */
  addCommand: string;
  accounts: AccountsConfig;
  /** The key TOTP secrets are sealed with (config.totpKey, DATADIR/totp.key). */
  totpKey: Uint8Array;
  clock: () => Date;
}

export interface Enrolment {
  user: string;
  password: string;
  otpauthUri: string;
}

export interface UserView<R extends string = string, C extends string = string> {
  name: string;
  role: R;
  clearance: C;
  disabled: boolean;
  passwordSetAt: string;
  createdAt: string;
}

const view = <R extends string, C extends string>(u: User<R, C>): UserView<R, C> => ({ name: u.name, role: u.role, clearance: u.clearance, disabled: u.disabled, passwordSetAt: u.passwordSetAt, createdAt: u.createdAt });

export function usersService<R extends string, C extends string>(deps: UsersDeps<R, C>) {
  const { db, store, actorNode, clock } = deps;
  const { endUserSessions, findUser, insertUser, isServiceAccount, listUsers, unlock, updateUser } = store;
  const audited = (actor: string, action: string, user: string, outcome: 'success' | 'failure', reason: string) =>
    deps.audit.record({ actor, actorNode, action, object: `user:${user}`, outcome, reason });
  const existing = async (actor: string, action: string, name: string): Promise<User<R, C>> => {
    const u = await findUser(db, name);
    if (!u) {
      await audited(actor, action, name, 'failure', 'ERR_USER_NOT_FOUND');
      throw accountError('ERR_USER_NOT_FOUND', `没有用户「${name}」[ERR_USER_NOT_FOUND]`, { user: name });
    }
    return u;
  };
  /** The mark of a command-line change to an admin-duty account (the break-glass HTTP cannot do). */
  const breakGlass = (byRole: R | undefined, target: User<R, C>) => (byRole === undefined && deps.adminRoles.includes(target.role) ? `break-glass role=${target.role} ` : '');
  const credentials = async (name: string) => {
    const password = generatePassword(deps.accounts.password);
    const secret = newTotpSecret();
    return { password, secret, hash: await hashPassword(password), enrolment: { user: name, password, otpauthUri: otpauthUri(deps.issuer, name, secret) } };
  };

  return {
    list: async (): Promise<UserView<R, C>[]> => (await listUsers(db)).map(view),

    async add(actor: string, name: string, role: R, clearance: C): Promise<Enrolment> {
      assertUserName(name);
      if (await findUser(db, name)) {
        await audited(actor, 'user.add', name, 'failure', 'ERR_USER_EXISTS');
        throw accountError('ERR_USER_EXISTS', `用户名「${name}」已存在 [ERR_USER_EXISTS]`, { user: name });
      }
      if (await isServiceAccount(db, name)) { // a person never shares a name with a service account (nor the reverse, service-tokens.ts)
        await audited(actor, 'user.add', name, 'failure', 'ERR_USER_EXISTS (service account)');
        throw accountError('ERR_USER_EXISTS', `「${name}」是服务账户的名称（已发过服务令牌），不能再作为登录用户 [ERR_USER_EXISTS]`, { user: name, serviceAccount: true });
      }
      const now = clock();
      const c = await credentials(name);
      await insertUser(db, deps.totpKey, { name, role, clearance, passwordHash: c.hash, totpSecret: c.secret, passwordSetAt: MUST_CHANGE }, now);
      await audited(actor, 'user.add', name, 'success', `role=${role} clearance=${clearance}`);
      return c.enrolment;
    },

    /**
     * Disables `name` and ends its sessions. Over HTTP (`byRole`: the caller's role) the caller
     * cannot disable itself nor an account holding another admin duty (ERR_ROLE_ADMIN_DUTY): a
     * sysadmin who could lock out the secadmin or the auditor would hold all three duties. The
     * command line passes no role: its break-glass is unrestricted, and audited as such.
     */
    async disable(actor: string, name: string, byRole?: R): Promise<number> {
      const target = await existing(actor, 'user.disable', name);
      if (byRole !== undefined && (actor === `user:${name}` || (deps.adminRoles.includes(target.role) && target.role !== byRole))) {
        await audited(actor, 'user.disable', name, 'failure', `ERR_ROLE_ADMIN_DUTY (role=${target.role})`);
        throw accountError('ERR_ROLE_ADMIN_DUTY', `不能经 HTTP 停用${actor === `user:${name}` ? '自己的账户' : `管理员职责账户「${name}」（${target.role}）`}：三权分立的账户只能由操作员在服务器上用 ${deps.addCommand.replace(/ add$/, ' disable')} 停用（紧急处置，留审计）[ERR_ROLE_ADMIN_DUTY]`, { user: name, role: target.role });
      }
      const now = clock();
      await updateUser(db, name, { disabled: true }, now);
      const ended = await endUserSessions(db, name, 'disabled', now);
      await audited(actor, 'user.disable', name, 'success', `${breakGlass(byRole, target)}sessions ended=${ended}`);
      return ended;
    },

    /** New initial password (to be changed before the next login) and TOTP secret; the account is enabled and unlocked, its sessions ended. */
    async reset(actor: string, name: string): Promise<Enrolment> {
      const target = await existing(actor, 'user.reset', name);
      const now = clock();
      const c = await credentials(name);
      await updateUser(db, name, { passwordHash: c.hash, totpSecret: c.secret, disabled: false, passwordSetAt: MUST_CHANGE, lastOtpStep: null }, now, deps.totpKey);
      await unlock(db, name);
      const ended = await endUserSessions(db, name, 'reset', now);
      await audited(actor, 'user.reset', name, 'success', `${breakGlass(undefined, target)}sessions ended=${ended}`);
      return c.enrolment;
    },

    /**
     * Role and clearance (secadmin); the user's live sessions end so the change takes effect at once.
     * Admin duties (sysadmin, secadmin, auditor) are neither granted nor taken away here: they are
     * set only by `credit node|hub user add` (the operator with the config, audited), so a secadmin
     * cannot make a second secadmin, demote the auditor or give the sysadmin record access.
     */
    async authorize(actor: string, name: string, role: R, clearance: C): Promise<UserView<R, C>> {
      const before = await existing(actor, 'user.authorize', name);
      if (actor === `user:${name}`) {
        await audited(actor, 'user.authorize', name, 'failure', 'ERR_ROLE_DENIED');
        throw accountError('ERR_ROLE_DENIED', '不能修改自己的角色或密级 [ERR_ROLE_DENIED]');
      }
      if (deps.adminRoles.includes(before.role) || deps.adminRoles.includes(role)) {
        await audited(actor, 'user.authorize', name, 'failure', 'ERR_ROLE_ADMIN_DUTY');
        throw accountError('ERR_ROLE_ADMIN_DUTY', `管理员职责（系统管理员、安全管理员、审计员）只能在 ${deps.addCommand} 时设定，不能授予或变更 [ERR_ROLE_ADMIN_DUTY]`, { user: name, from: before.role, to: role });
      }
      const now = clock();
      await updateUser(db, name, { role, clearance }, now);
      const ended = await endUserSessions(db, name, 'reset', now);
      await audited(actor, 'user.authorize', name, 'success', `role=${before.role}→${role} clearance=${before.clearance}→${clearance} sessions ended=${ended}`);
      return view((await findUser(db, name))!);
    },
  };
}

export type UsersService<R extends string = string, C extends string = string> = ReturnType<typeof usersService<R, C>>;
