/**
 * The only reader of the node's config file and environment. One schema (config-schema.ts) for
 * both; the result has every default filled in, the JWT secret and the subject key loaded (each
 * generated on first use, 0600; `start` writes them only after its checks have passed),
 * and is deeply frozen. Fails fast with ERR_CONFIG_INVALID naming the key.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import type { AuditHashAlg } from '../audit/crypto.js';
import { secureDataDir, type NewFile } from '../audit/store-files.js';
import { writeNewFile } from '../certs/safe-files.js';
import { isNodeId } from '../protocol/identifiers.js';
import { checkSuitesKey } from '../protocol/config-check.js';
import { CONFIG_SCHEMA, validateAgainst } from './config-schema.js';
import { readOrNewSecret } from './secrets.js';
import { serviceError } from '../protocol/service-errors.js';
import { readConfigJson } from '../server/config-file.js';
import { checkTrustProxy } from '../server/trust-proxy.js';
import type { AccountsConfig } from '../server/accounts-config.js';

export interface NodeConfig {
  nodeId: string;
  dataDir: string;
  /** Where the store lives: the SQLite file, or a postgres:// URL. */
  databaseTarget: string;
  databaseUrl?: string;
  listen: { host: string; port: number; tls?: { certFile: string; keyFile: string }; allowPlaintext: boolean };
  jwtSecretFile: string;
  /** Encryption at rest: the data key file and its wrapper (server/config-schema.ts atRestOptions). */
  atRest?: { keyFile?: string; keyWrapper?: string };
  /** The audit log: `hashAlg` only when the config file sets it (server/config-schema.ts AUDIT_SCHEMA). */
  audit?: { hashAlg?: AuditHashAlg };
  /** The HS256 secret (not printed, not logged). */
  jwtSecret: Buffer;
  /** The key of subject handles in the audit log (DATADIR/subject.key; not printed, not logged). */
  subjectKey: Buffer;
  /** The key TOTP secrets are sealed with at rest (DATADIR/totp.key; not printed, not logged). */
  totpKey: Buffer;
  /** TLS gateways whose X-Forwarded-For is believed (addresses, CIDRs; server/trust-proxy.ts); empty: none. */
  trustProxy: string[];
  /** Secret files still to write (absent when the config was read; readConfig); empty after buildConfig. */
  newFiles?: readonly NewFile[];
  logLevel: string;
  bodyLimitBytes: number;
  importLimitBytes: number;
  importUnpackLimitBytes: number;
  importBatchSize: number;
  rejectedLinesCap: number;
  /** Province defaults of 失信程度 per type (CF) or type/category (CF/警告); empty when not configured. */
  severityDefaults: Readonly<Record<string, 'minor' | 'ordinary' | 'serious'>>;
  rateLimit: { enabled: boolean; max: number; timeWindowMs: number };
  disclosureJob: { intervalMinutes: number };
  /** Pruning of settled exchange rows (audit/exchange-retention.ts). */
  retention: { exchangeDays: number; intervalMinutes: number };
  shutdownTimeoutMs: number;
  /** Login, sessions, lockout and password policy (issue 18; node/accounts-config.ts). */
  accounts: AccountsConfig;
  /** The hub exchange; absent on a standalone node. */
  hub?: HubConfig;
  /** The web console's listener (node/console/); absent: no console. `tls` is the node's listen.tls unless set. */
  console?: { listen: { host: string; port: number; tls?: { certFile: string; keyFile: string }; allowPlaintext: boolean } };
}

export interface HubConfig {
  /** The hub's origin, without a trailing slash. */
  url: string;
  pollIntervalMs: number;
  /** Outbox rows a batch is cut at (default 5,000, the protocol's MAX_BATCH_ITEMS). */
  batchMaxRecords: number;
  /** Bytes of the records' stored text a batch stays within (default 8 MiB; at least one row is cut whatever its size). */
  batchMaxBytes: number;
  batchMaxAgeMs: number;
  checkpointIntervalMs: number;
  renewAt: number;
  timeoutMs: number;
  /** Act on unsigned seq refusals (a hub of protocol 1.1); default false (node/exchange/seq-answer.ts). */
  unsignedSeqRefusals: boolean;
  /** Suite policy (mirrors the hub's `suites`): ["SM"] seals and opens only the national suite. Absent: any usable suite. */
  suites?: string[];
}

/** Environment variables the node reads, and the config key each sets. */
export const ENV_KEYS: Record<string, string> = { DATABASE_URL: 'databaseUrl', CREDIT_LOG_LEVEL: 'logLevel' };

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Buffer.isBuffer(o) && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/**
 * Validates raw config (as parsed from the file) merged with the environment. Relative paths are
 * resolved against `baseDir` (the config file's folder). Changes nothing on disk: a secret file
 * that is absent gets a new random secret, listed in `newFiles` for the start to write once its
 * checks have passed (node/server.ts).
 */
export function readConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env, baseDir = process.cwd()): NodeConfig {
  const merged: Record<string, unknown> = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? { ...(raw as object) } : (raw as Record<string, unknown>);
  if (typeof merged === 'object' && merged !== null && !Array.isArray(merged)) {
    for (const [name, key] of Object.entries(ENV_KEYS)) if (env[name] !== undefined && env[name] !== '') merged[key] = env[name];
  }
  // a list (the schema subset has no arrays): checked by server/trust-proxy.ts
  const trustProxy = checkTrustProxy(typeof merged === 'object' && merged !== null ? merged.trustProxy : undefined);
  if (typeof merged === 'object' && merged !== null) delete merged.trustProxy;
  // hub.suites (a list: the schema validator takes no arrays) is checked on its own
  const rawHub = typeof merged === 'object' && merged !== null ? (merged.hub as Record<string, unknown> | undefined) : undefined;
  const hubSuites = rawHub && typeof rawHub === 'object' ? checkSuitesKey(rawHub.suites, 'hub.suites') : undefined;
  if (rawHub && typeof rawHub === 'object' && 'suites' in rawHub) {
    const { suites: _s, ...hubRest } = rawHub;
    merged.hub = hubRest;
  }
  // the schema fills defaults into `console` even when the file has none: a console only when asked for
  const wantsConsole = typeof merged === 'object' && merged !== null && merged.console !== undefined;
  const v = validateAgainst(CONFIG_SCHEMA, merged) as Omit<NodeConfig, 'databaseTarget' | 'jwtSecret' | 'jwtSecretFile' | 'subjectKey' | 'totpKey' | 'newFiles' | 'trustProxy'> & { jwtSecretFile?: string };
  if (!isNodeId(v.nodeId)) throw serviceError('ERR_CONFIG_INVALID', `config key nodeId: ${JSON.stringify(v.nodeId)} is not a GB/T 2260 division code with a province prefix`, { key: 'nodeId' });
  const dataDir = resolve(baseDir, v.dataDir);
  if (existsSync(dataDir) && !statSync(dataDir).isDirectory()) throw serviceError('ERR_CONFIG_INVALID', `config key dataDir: ${dataDir} is not a directory`, { key: 'dataDir' });
  const newFiles: NewFile[] = [];
  const jwtSecretFile = resolve(baseDir, v.jwtSecretFile ?? join(dataDir, 'jwt.secret'));
  let jwtSecret: Buffer;
  try {
    const r = readOrNewSecret(jwtSecretFile);
    jwtSecret = r.secret;
    if (r.create) newFiles.push(r.create);
  } catch (e) {
    throw serviceError('ERR_CONFIG_INVALID', `config key jwtSecretFile: ${(e as Error).message}`, { key: 'jwtSecretFile' });
  }
  if (jwtSecret.length < 32) throw serviceError('ERR_CONFIG_INVALID', 'config key jwtSecretFile: the secret must be at least 32 bytes', { key: 'jwtSecretFile' });
  let subjectKey: Buffer;
  try {
    const r = readOrNewSecret(join(dataDir, 'subject.key'));
    subjectKey = r.secret;
    if (r.create) newFiles.push(r.create);
  } catch (e) {
    throw serviceError('ERR_CONFIG_INVALID', `config key dataDir: subject.key: ${(e as Error).message}`, { key: 'dataDir' });
  }
  if (subjectKey.length < 32) throw serviceError('ERR_CONFIG_INVALID', `config key dataDir: ${join(dataDir, 'subject.key')} must hold at least 32 bytes`, { key: 'dataDir' });
  let totpKey: Buffer;
  try {
    const r = readOrNewSecret(join(dataDir, 'totp.key'));
    totpKey = r.secret;
    if (r.create) newFiles.push(r.create);
  } catch (e) {
    throw serviceError('ERR_CONFIG_INVALID', `config key dataDir: totp.key: ${(e as Error).message}`, { key: 'dataDir' });
  }
  if (totpKey.length < 32) throw serviceError('ERR_CONFIG_INVALID', `config key dataDir: ${join(dataDir, 'totp.key')} must hold at least 32 bytes`, { key: 'dataDir' });
  const tls = v.listen.tls ? { certFile: resolve(baseDir, v.listen.tls.certFile), keyFile: resolve(baseDir, v.listen.tls.keyFile) } : undefined;
  const consoleTls = v.console?.listen.tls ? { certFile: resolve(baseDir, v.console.listen.tls.certFile), keyFile: resolve(baseDir, v.console.listen.tls.keyFile) } : tls;
  const { console: _console, ...rest } = v;
  return deepFreeze({
    ...rest,
    ...(v.hub ? { hub: { ...v.hub, url: v.hub.url.replace(/\/$/, ''), ...(hubSuites ? { suites: hubSuites } : {}) } } : {}),
    dataDir,
    listen: { ...v.listen, ...(tls ? { tls } : {}) },
    ...(v.console && wantsConsole ? { console: { listen: { ...v.console.listen, ...(consoleTls ? { tls: consoleTls } : {}) } } } : {}),
    databaseTarget: v.databaseUrl ?? join(dataDir, 'node.sqlite'),
    jwtSecretFile,
    jwtSecret,
    subjectKey,
    totpKey,
    trustProxy,
    newFiles,
  });
}

/**
 * readConfig, then creates dataDir (0700, also set on an existing one) and the secret files it
 * lacks, as every command but `start` expects (start does this itself, after its checks).
 */
export function buildConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env, baseDir = process.cwd()): NodeConfig {
  const config = readConfig(raw, env, baseDir);
  try {
    secureDataDir(config.dataDir);
  } catch (e) {
    throw serviceError('ERR_CONFIG_INVALID', `config key dataDir: cannot create ${config.dataDir} or make it 0700: ${(e as Error).message}`, { key: 'dataDir' });
  }
  for (const f of config.newFiles ?? []) {
    try {
      mkdirSync(dirname(f.path), { recursive: true });
      writeNewFile(f.path, f.content, 0o600);
    } catch (e) {
      // another process wrote it meanwhile: read that one instead
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return buildConfig(raw, env, baseDir);
      const key = f.path === config.jwtSecretFile ? 'jwtSecretFile' : 'dataDir';
      throw serviceError('ERR_CONFIG_INVALID', `config key ${key}: ${(e as Error).message}`, { key });
    }
  }
  return deepFreeze({ ...config, newFiles: [] });
}

/** Reads and validates a JSON config file (plus the environment) without changing anything on disk (readConfig). */
export function readConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): NodeConfig {
  const { raw, baseDir } = readConfigJson(file);
  return readConfig(raw, env, baseDir);
}

/** Reads and validates a JSON config file (plus the environment); creates dataDir and the secrets it lacks (buildConfig). */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): NodeConfig {
  const { raw, baseDir } = readConfigJson(file);
  return buildConfig(raw, env, baseDir);
}
