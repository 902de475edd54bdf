/**
 * The one rule for user names, node and hub alike (people and service accounts): 1–64 letters,
 * digits, `.`, `_`, `@`, `-`. Applied by the command line (`credit node|hub user …`, `credit node
 * token`), the HTTP routes that name a user (USER_NAME_SCHEMA), the users service and the store
 * (assertUserName), and the session check (a token's `sub`). A login with any other name is not
 * refused by the rule: it fails as every wrong login does (ERR_LOGIN_FAILED), so it reveals nothing.
 */
import { serviceError } from '../protocol/service-errors.js';

export const USER_NAME_PATTERN = /^[A-Za-z0-9._@-]{1,64}$/;

/** The rule in words, for messages. */
export const USER_NAME_RULE = '1–64 letters, digits, . _ @ -';

/** The JSON Schema of a user name (route params). */
export const USER_NAME_SCHEMA = { type: 'string', minLength: 1, maxLength: 64, pattern: USER_NAME_PATTERN.source } as const;

export function isUserName(x: unknown): x is string {
  return typeof x === 'string' && USER_NAME_PATTERN.test(x);
}

/** Throws ERR_REQUEST_INVALID (naming the value) unless `name` follows the rule. */
export function assertUserName(name: unknown): asserts name is string {
  if (!isUserName(name)) throw serviceError('ERR_REQUEST_INVALID', `用户名 ${JSON.stringify(name)} 不合规则：${USER_NAME_RULE} [ERR_REQUEST_INVALID]`, { user: String(name).slice(0, 80) });
}
