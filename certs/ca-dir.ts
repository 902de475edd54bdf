/**
 * The CA directory: `ca.pem` (0644), `ca.key` (0600), `state.json` (0600) in a 0700 directory,
 * plus `.lock` while a change is under way. `initCaDir` refuses to overwrite an existing CA;
 * `openCaDir` gives a CA whose every change locks the directory; `withCaDir` holds the lock around
 * a whole operation (issue = pick a fresh serial + record it), as the CLI does.
 *
 * One register per CA: once a hub uses the directory (`markHubRegister`, on every hub opening),
 * its register of certificates and its tokens live in the hub database, and `state.json` would be a
 * second, stale register (a CRL built from it omits what the hub revoked). `openCaDir` and
 * `withCaDir` then refuse the directory with ERR_CA_HUB_REGISTER.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { certError } from './errors.js';
import { FileCaStore, lockedStateStore, readStateFile } from './file-store.js';
import { createCaCertificate, generateRsaKeyPair } from './pki-crypto.js';
import { withFileLock, writeNewFile } from './safe-files.js';
import { emptyState, memoryStores, serializeState } from './state-store.js';
import type { Ca } from './types.js';

export const CA_FILES = { cert: 'ca.pem', key: 'ca.key', state: 'state.json', lock: '.lock', hub: 'hub-register.json' } as const;
export const DEFAULT_CA_NAME = 'Hunan Provincial Public Credit CA';
const DAY = 86_400_000;

export interface InitCaOptions {
  /** Subject CN of the root (default "Hunan Provincial Public Credit CA"). */
  cn?: string;
  /** Validity in days (default 3650). */
  days?: number;
  now?: Date;
}

export interface DirOptions {
  /** How long to wait for another process's lock before ERR_CA_LOCKED (default 10 s). */
  lockTimeoutMs?: number;
}

/** A self-signed root over a fresh RSA-2048 key. */
export function createCaMaterial(o: InitCaOptions = {}): { certPem: string; keyPem: string } {
  const now = o.now ?? new Date();
  const days = o.days ?? 3650;
  if (!Number.isInteger(days) || days <= 0) throw new RangeError('CA validity must be a positive whole number of days');
  const keyPair = generateRsaKeyPair();
  const certPem = createCaCertificate({
    cn: o.cn ?? DEFAULT_CA_NAME,
    keyPair,
    notBefore: new Date(now.getTime() - 5 * 60_000),
    notAfter: new Date(now.getTime() + days * DAY),
  });
  return { certPem, keyPem: keyPair.privateKeyPem };
}

/** Creates a root CA in `dir` (made 0700); ERR_CA_EXISTS when any CA file is already there. */
export async function initCaDir(dir: string, o: InitCaOptions = {}): Promise<{ certPem: string; certPath: string; keyPath: string }> {
  for (const f of [CA_FILES.cert, CA_FILES.key, CA_FILES.state]) {
    if (existsSync(join(dir, f))) throw certError('ERR_CA_EXISTS', `${join(dir, f)} exists; refusing to overwrite the CA`, { dir });
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const { certPem, keyPem } = createCaMaterial(o);
  const keyPath = join(dir, CA_FILES.key);
  const certPath = join(dir, CA_FILES.cert);
  // the key first, exclusively: of two concurrent inits one fails here instead of overwriting
  try {
    writeNewFile(keyPath, keyPem, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw certError('ERR_CA_EXISTS', `${keyPath} exists; refusing to overwrite the CA`, { dir });
    throw e;
  }
  writeNewFile(join(dir, CA_FILES.state), serializeState(emptyState()), 0o600);
  writeNewFile(certPath, certPem, 0o644);
  return { certPem, certPath, keyPath };
}

function readCaFiles(dir: string): { certPem: string; keyPem: string } {
  try {
    return { certPem: readFileSync(join(dir, CA_FILES.cert), 'utf8'), keyPem: readFileSync(join(dir, CA_FILES.key), 'utf8') };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw certError('ERR_CA_NOT_FOUND', `no CA in ${dir} (run \`credit ca init --dir ${dir}\`)`, { dir });
    throw e;
  }
}

/** What the hub wrote into its CA directory: the register is the hub database's. */
export interface HubRegisterMark {
  register: 'hub database';
  since: string;
}

/**
 * Marks `dir` as a hub's CA (idempotent). Best effort: a read-only directory (a mounted secret)
 * cannot be marked, and then cannot be changed by `credit ca` either.
 */
export function markHubRegister(dir: string, now = new Date()): void {
  const mark: HubRegisterMark = { register: 'hub database', since: now.toISOString() };
  try {
    writeNewFile(join(dir, CA_FILES.hub), `${JSON.stringify(mark)}\n`, 0o644);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST' && code !== 'EROFS' && code !== 'EACCES' && code !== 'EPERM') throw e;
  }
}

/** The hub's mark in `dir`, or undefined for a CA run without a hub. */
export function hubRegisterOf(dir: string): HubRegisterMark | undefined {
  const path = join(dir, CA_FILES.hub);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as HubRegisterMark;
  } catch {
    return { register: 'hub database', since: 'unknown' };
  }
}

/** ERR_CA_HUB_REGISTER when a hub uses `dir`; `instead` says what to run instead. */
export function refuseHubRegister(dir: string, instead = 'the `credit hub …` command with the hub\'s config'): void {
  const mark = hubRegisterOf(dir);
  if (mark === undefined) return;
  throw certError(
    'ERR_CA_HUB_REGISTER',
    `${dir} is the CA of a provincial hub (since ${mark.since}): its register of certificates and its enrolment tokens live in the hub database, not in ${CA_FILES.state}; use ${instead}`,
    { dir },
  );
}

/** The CA in `dir`; each change to its register or tokens locks the directory. */
export async function openCaDir(dir: string, o: DirOptions = {}): Promise<Ca> {
  refuseHubRegister(dir);
  const { certPem, keyPem } = readCaFiles(dir);
  const statePath = join(dir, CA_FILES.state);
  readStateFile(statePath); // fail now on a missing or damaged state file
  const store = new FileCaStore(statePath, join(dir, CA_FILES.lock), { timeoutMs: o.lockTimeoutMs });
  return { certPem, keyPem, certs: store, tokens: store };
}

/** Runs `fn` with the CA of `dir` under the directory lock (ERR_CA_LOCKED if it stays taken). */
export async function withCaDir<T>(dir: string, fn: (ca: Ca) => Promise<T>, o: DirOptions = {}): Promise<T> {
  refuseHubRegister(dir);
  const { certPem, keyPem } = readCaFiles(dir);
  const statePath = join(dir, CA_FILES.state);
  return withFileLock(
    join(dir, CA_FILES.lock),
    () => {
      const store = lockedStateStore(statePath);
      return fn({ certPem, keyPem, certs: store, tokens: store });
    },
    { timeoutMs: o.lockTimeoutMs },
  );
}

/** A CA held in memory (tests, tools): a fresh root with in-memory registers. */
export function createMemoryCa(o: InitCaOptions = {}): Ca {
  const store = memoryStores();
  return { ...createCaMaterial(o), certs: store, tokens: store };
}
