/**
 * The two factors of a login (issue 18 item 3), for the node and the hub alike: argon2id password
 * hashes (@node-rs/argon2, its defaults: argon2id, 19 MiB, 2 passes) with the configured complexity
 * policy, TOTP (RFC 6238, otplib: SHA-1, 6 digits, 30 s) with the time step reported so a code is
 * accepted once, and the TOTP secret sealed at rest (AES-256-GCM under the server's totp.key).
 * The one module of server/ that touches node:crypto.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, randomInt, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { hash, verify } from '@node-rs/argon2';
import { generateSecret, generateURI, verify as verifyTotp } from 'otplib';
import { writeNewFile } from '../certs/safe-files.js';
import type { AccountsConfig } from './accounts-config.js';

export const TOTP_PERIOD_SECONDS = 30;

export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

/**
 * A well-formed hash of nothing anyone knows: verified against when the user does not exist, so both
 * paths do the same work. Made at start (prepareDecoyHash, awaited by both servers' build), so the
 * first login of an unknown name does not also pay for hashing it.
 */
let decoy: Promise<string> | undefined;
let decoyMade = false;

/** Computes the decoy hash once (both servers await it while starting). */
export async function prepareDecoyHash(): Promise<void> {
  await (decoy ??= hash(`decoy-${randomInt(2 ** 47)}`).then((h) => {
    decoyMade = true;
    return h;
  }));
}

/** Whether the decoy hash exists (tests). */
export function decoyHashReady(): boolean {
  return decoyMade;
}

export async function verifyPassword(passwordHash: string | undefined, password: string): Promise<boolean> {
  if (passwordHash === undefined) await prepareDecoyHash(); // made at start; here only for a caller that never started a server
  const h = passwordHash ?? (await decoy!);
  try {
    return (await verify(h, password)) && passwordHash !== undefined;
  } catch {
    return false;
  }
}

const CLASSES = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/];

/** What is wrong with `password` under the policy, in Chinese (empty: acceptable). */
export function passwordProblems(password: string, policy: AccountsConfig['password'], user?: string): string[] {
  const problems: string[] = [];
  if ([...password].length < policy.minLength) problems.push(`至少 ${policy.minLength} 个字符`);
  const classes = CLASSES.filter((c) => c.test(password)).length;
  if (classes < policy.minClasses) problems.push(`须含小写字母、大写字母、数字、其他符号中至少 ${policy.minClasses} 类`);
  if (user && password.toLowerCase().includes(user.toLowerCase())) problems.push('不得包含用户名');
  return problems;
}

/** A random password meeting any policy (four classes, at least 16 characters). */
export function generatePassword(policy: AccountsConfig['password']): string {
  const sets = ['abcdefghijkmnpqrstuvwxyz', 'ABCDEFGHJKLMNPQRSTUVWXYZ', '23456789', '-_.!@#%+='];
  const all = sets.join('');
  const chars = sets.map((s) => s[randomInt(s.length)]!);
  while (chars.length < Math.max(16, policy.minLength)) chars.push(all[randomInt(all.length)]!);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}

export function newTotpSecret(): string {
  return generateSecret();
}

/** The otpauth:// URI an authenticator app enrols from (printed once by `credit node|hub user add`); issuer e.g. `credit-node-430100`. */
export function otpauthUri(issuer: string, user: string, secret: string): string {
  return generateURI({ issuer, label: user, secret });
}

/**
 * The RFC 6238 time step `otp` belongs to (the current one or the one before, for a code typed at
 * the turn of a period), or null when it is not a current code of `secret`.
 */
export async function otpStep(secret: string, otp: string, now: Date): Promise<number | null> {
  if (!/^[0-9]{6}$/.test(otp)) return null;
  try {
    const r = await verifyTotp({ secret, token: otp, epoch: Math.floor(now.getTime() / 1000), epochTolerance: [TOTP_PERIOD_SECONDS, 0] });
    if (!r.valid) return null;
    return (r as { timeStep?: number }).timeStep ?? Math.floor(now.getTime() / 1000 / TOTP_PERIOD_SECONDS) + ((r as { delta?: number }).delta ?? 0);
  } catch {
    return null;
  }
}

/** A fresh session id (`jti`). */
export function newSessionId(): string {
  return randomUUID();
}

/**
 * What a session row holds instead of its `jti`: SHA-256 of it, hex. A reader of the database finds
 * no bearer secret to replay; the server, given a token, finds its row by hashing the token's jti.
 */
export function jtiHash(jti: string): string {
  return createHash('sha256').update(jti, 'utf8').digest('hex');
}

/** The length of a session id: the first hex digits of jtiHash, shown in listings and as `sid=` in the audit log. */
export const SESSION_ID_LENGTH = 16;

/** The session id of `jti` (listings, `sid=`): the first 16 hex digits of its jtiHash. */
export function sessionIdOf(jti: string): string {
  return jtiHash(jti).slice(0, SESSION_ID_LENGTH);
}

/** The HKDF `info` of the key unknown names are HMAC'd with (unknownNameKey). */
export const UNKNOWN_NAME_INFO = 'credit unknown user name v1';

/** The key of unknownName: HKDF-SHA256 of the server's totp.key, so a reader of the store alone cannot test guesses against the kept value. */
export function unknownNameKey(totpKey: Uint8Array): Buffer {
  return deriveKey(totpKey, UNKNOWN_NAME_INFO);
}

/**
 * `unknown:<first 16 hex digits of HMAC-SHA256(key, name)>`: what is kept of a typed name that is
 * no user (it may be a password typed into the name field): stable per server, so an unknown name
 * still locks, but not the text and not an unkeyed hash of it.
 */
export function unknownName(key: Uint8Array, typed: string): string {
  return `unknown:${createHmac('sha256', key).update(typed, 'utf8').digest('hex').slice(0, 16)}`;
}

/** A 32-byte key derived from a key file's bytes with HKDF-SHA256 (RFC 5869, no salt) for one purpose (`info`). */
export function deriveKey(ikm: Uint8Array, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, Buffer.alloc(0), info, 32));
}

// ---- TOTP secrets at rest

/** The prefix of a sealed TOTP secret: `totp1:` + base64url(iv 12 bytes | ciphertext | GCM tag 16 bytes). */
export const SEALED_PREFIX = 'totp1:';

const sealKey = (key: Uint8Array) => createHash('sha256').update('credit-federation totp secret v1\0').update(key).digest();

/**
 * Seals a TOTP secret with AES-256-GCM under `key` (the AES key is SHA-256 of a label and the key
 * file's bytes). `bound` (the table and user name) is the additional data: a sealed secret copied to
 * another user's row does not open.
 */
export function sealSecret(key: Uint8Array, bound: string, secret: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', sealKey(key), iv);
  c.setAAD(Buffer.from(bound, 'utf8'));
  const body = Buffer.concat([c.update(secret, 'utf8'), c.final()]);
  return SEALED_PREFIX + Buffer.concat([iv, body, c.getAuthTag()]).toString('base64url');
}

/** The secret inside a sealed value, or undefined when it is not one sealed under `key` for `bound` (clear text, other key, other row, tampered). */
export function openSecret(key: Uint8Array, bound: string, stored: string): string | undefined {
  if (!stored.startsWith(SEALED_PREFIX)) return undefined;
  const raw = Buffer.from(stored.slice(SEALED_PREFIX.length), 'base64url');
  if (raw.length < 12 + 16 + 1) return undefined;
  try {
    const d = createDecipheriv('aes-256-gcm', sealKey(key), raw.subarray(0, 12));
    d.setAAD(Buffer.from(bound, 'utf8'));
    d.setAuthTag(raw.subarray(raw.length - 16));
    return Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

/**
 * Throws (an Error naming the file, its mode and the fix) when a secret key file may be read or
 * written by its group or others: its callers refuse the start with ERR_CONFIG_INVALID.
 */
export function assertPrivateFile(path: string): void {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) throw new Error(`${path} has mode ${mode.toString(8).padStart(4, '0')}: its group or others may read it; run chmod 600 ${path}`);
}

/**
 * The key TOTP secrets are sealed with: DATADIR/totp.key (32 random bytes, base64url, mode 0600),
 * created on first use (exclusively: two processes starting at once read the same key). A key file
 * that others may read, or that holds less than 32 bytes, is refused (Error naming the file).
 */
export function readOrCreateKeyFile(path: string): Buffer {
  if (!existsSync(path)) {
    try {
      writeNewFile(path, `${randomBytes(32).toString('base64url')}\n`, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  assertPrivateFile(path);
  const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'utf8');
  if (key.length < 32) throw new Error(`${path} must hold at least 32 bytes`);
  return key;
}
