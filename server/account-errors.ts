import { errorFactory } from '../protocol/errors.js';

/**
 * Codes of the accounts both servers keep (issue 18: the node's users and the hub's operators):
 * bearer tokens and sessions, login, lockout, passwords, the user register and separation of duties.
 */
export const ACCOUNT_ERRORS = {
  ERR_AUTH_MISSING: 'no bearer token: send Authorization: Bearer <token from POST /v1/login, or a service token>',
  ERR_AUTH_INVALID: 'bearer token is malformed, tampered with, unsigned, signed with another key, or names no session',
  ERR_AUTH_EXPIRED: 'bearer token has expired',
  ERR_ROLE_DENIED: "the caller's role may not do this",
  ERR_ROLE_ADMIN_DUTY: '管理员职责（sysadmin、secadmin、auditor）只在 credit node|hub user add 时设定，不能经授权授予或变更',
  ERR_LOGIN_FAILED: '登录失败：用户名、口令或动态口令不正确（不说明是哪一项）',
  ERR_ACCOUNT_LOCKED: '账户因连续登录失败已锁定，请在锁定期满后重试或联系系统管理员',
  ERR_SESSION_ENDED: '会话已结束（已注销、超时、账户被停用或令牌被吊销），请重新登录',
  ERR_PASSWORD_EXPIRED: '口令已超过有效期，请先修改口令（POST /v1/password）',
  ERR_PASSWORD_WEAK: '新口令不符合口令策略',
  ERR_USER_EXISTS: '用户名已存在',
  ERR_USER_NOT_FOUND: '没有这个用户',
} as const;

export type AccountErrorCode = keyof typeof ACCOUNT_ERRORS;
export const accountError = errorFactory(ACCOUNT_ERRORS);

/** HTTP statuses of the account codes (both servers' tables include them). */
export const ACCOUNT_HTTP_STATUS: Readonly<Record<AccountErrorCode, number>> = Object.freeze({
  ERR_AUTH_MISSING: 401,
  ERR_AUTH_INVALID: 401,
  ERR_AUTH_EXPIRED: 401,
  ERR_ROLE_DENIED: 403,
  ERR_ROLE_ADMIN_DUTY: 403,
  ERR_LOGIN_FAILED: 401,
  ERR_ACCOUNT_LOCKED: 423,
  ERR_SESSION_ENDED: 401,
  ERR_PASSWORD_EXPIRED: 403,
  ERR_PASSWORD_WEAK: 422,
  ERR_USER_EXISTS: 409,
  ERR_USER_NOT_FOUND: 404,
});
