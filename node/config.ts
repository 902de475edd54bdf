/**
 * The only reader of the node's config file and environment. One schema (config-schema.ts) for
 * both; the result has every default filled in, the JWT secret and the subject key loaded (each
 * generated on first start, 0600),
 * and is deeply frozen. Fails fast with ERR_CONFIG_INVALID naming the key.
 */
import { readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { secureDataDir } from '../audit/store-files.js';
import { isNodeId } from '../protocol/identifiers.js';
import { CONFIG_SCHEMA, validateAgainst } from './config-schema.js';
import { loadOrCreateSecret } from './secrets.js';
import { serviceError } from '../protocol/service-errors.js';

export interface NodeConfig {
  nodeId: string;
  dataDir: string;
  /** Where the store lives: the SQLite file, or a postgres:// URL. */
  databaseTarget: string;
  databaseUrl?: string;
  listen: { host: string; port: number; tls?: { certFile: string; keyFile: string } };
  jwtSecretFile: string;
  /** The HS256 secret (not printed, not logged). */
  jwtSecret: Buffer;
  /** The key of subject handles in the audit log (DATADIR/subject.key; not printed, not logged). */
  subjectKey: Buffer;
  logLevel: string;
  bodyLimitBytes: number;
  importLimitBytes: number;
  importBatchSize: number;
  rejectedLinesCap: number;
  rateLimit: { enabled: boolean; max: number; timeWindowMs: number };
  disclosureJob: { intervalMinutes: number };
  shutdownTimeoutMs: number;
  /** The hub exchange; absent on a standalone node. */
  hub?: HubConfig;
}

export interface HubConfig {
  /** The hub's origin, without a trailing slash. */
  url: string;
  pollIntervalMs: number;
  batchMaxRecords: number;
  batchMaxAgeMs: number;
  checkpointIntervalMs: number;
  renewAt: number;
  timeoutMs: number;
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
 * resolved against `baseDir` (the config file's folder). Creates dataDir (0700, also set on an
 * existing one) and the JWT secret.
 */
export function buildConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env, baseDir = process.cwd()): NodeConfig {
  const merged: Record<string, unknown> = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? { ...(raw as object) } : (raw as Record<string, unknown>);
  if (typeof merged === 'object' && merged !== null && !Array.isArray(merged)) {
    for (const [name, key] of Object.entries(ENV_KEYS)) if (env[name] !== undefined && env[name] !== '') merged[key] = env[name];
  }
  const v = validateAgainst(CONFIG_SCHEMA, merged) as Omit<NodeConfig, 'databaseTarget' | 'jwtSecret' | 'jwtSecretFile' | 'subjectKey'> & { jwtSecretFile?: string };
  if (!isNodeId(v.nodeId)) throw serviceError('ERR_CONFIG_INVALID', `config key nodeId: ${JSON.stringify(v.nodeId)} is not a GB/T 2260 division code with a province prefix`, { key: 'nodeId' });
  const dataDir = resolve(baseDir, v.dataDir);
  try {
    secureDataDir(dataDir);
  } catch (e) {
    throw serviceError('ERR_CONFIG_INVALID', `config key dataDir: cannot create ${dataDir} or make it 0700: ${(e as Error).message}`, { key: 'dataDir' });
  }
  const jwtSecretFile = resolve(baseDir, v.jwtSecretFile ?? join(dataDir, 'jwt.secret'));
  let jwtSecret: Buffer;
  try {
    jwtSecret = loadOrCreateSecret(jwtSecretFile);
  } catch (e) {
    throw serviceError('ERR_CONFIG_INVALID', `config key jwtSecretFile: ${(e as Error).message}`, { key: 'jwtSecretFile' });
  }
  if (jwtSecret.length < 32) throw serviceError('ERR_CONFIG_INVALID', 'config key jwtSecretFile: the secret must be at least 32 bytes', { key: 'jwtSecretFile' });
  let subjectKey: Buffer;
  try {
    subjectKey = loadOrCreateSecret(join(dataDir, 'subject.key'));
  } catch (e) {
    throw serviceError('ERR_CONFIG_INVALID', `config key dataDir: subject.key: ${(e as Error).message}`, { key: 'dataDir' });
  }
  if (subjectKey.length < 32) throw serviceError('ERR_CONFIG_INVALID', `config key dataDir: ${join(dataDir, 'subject.key')} must hold at least 32 bytes`, { key: 'dataDir' });
  const tls = v.listen.tls ? { certFile: resolve(baseDir, v.listen.tls.certFile), keyFile: resolve(baseDir, v.listen.tls.keyFile) } : undefined;
  return deepFreeze({
    ...v,
    ...(v.hub ? { hub: { ...v.hub, url: v.hub.url.replace(/\/$/, '') } } : {}),
    dataDir,
    listen: { ...v.listen, ...(tls ? { tls } : {}) },
    databaseTarget: v.databaseUrl ?? join(dataDir, 'node.sqlite'),
    jwtSecretFile,
    jwtSecret,
    subjectKey,
  });
}

/** Reads and validates a JSON config file (plus the environment). */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): NodeConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw serviceError('ERR_CONFIG_INVALID', `cannot read config file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { key: '(file)' });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw serviceError('ERR_CONFIG_INVALID', `config file ${file} is not JSON: ${(e as Error).message}`, { key: '(file)' });
  }
  return buildConfig(raw, env, dirname(resolve(file)));
}
