/**
 * The only reader of the hub's config file and environment: one schema (config-schema.ts),
 * defaults filled in, relative paths resolved against the config file's folder, deeply frozen.
 * Fails fast with ERR_CONFIG_INVALID naming the key.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { secureDataDir } from '../audit/store-files.js';
import { sanHosts } from '../certs/issue.js';
import { validateAgainst } from '../protocol/config-check.js';
import { serviceError } from '../protocol/service-errors.js';
import { HUB_CONFIG_SCHEMA } from './config-schema.js';

export interface HubConfig {
  dataDir: string;
  caDir: string;
  /** Where the store lives: DATADIR/hub.sqlite, or a postgres:// URL. */
  databaseTarget: string;
  databaseUrl?: string;
  listen: { host: string; port: number };
  /** Extra SANs of the hub certificate (besides localhost and 127.0.0.1). */
  hosts: string[];
  nodeCertDays: number;
  nodeCertSeconds?: number;
  renewMinIntervalSeconds: number;
  renewOverlapSeconds: number;
  windowMs: number;
  maxEnvelopeBytes: number;
  bodyLimitBytes: number;
  rateLimit: { enabled: boolean; max: number; timeWindowMs: number };
  logLevel: string;
  shutdownTimeoutMs: number;
}

/** Environment variables the hub reads, and the config key each sets. */
export const HUB_ENV_KEYS: Record<string, string> = { DATABASE_URL: 'databaseUrl', CREDIT_LOG_LEVEL: 'logLevel' };

function bad(key: string, message: string): never {
  throw serviceError('ERR_CONFIG_INVALID', `config key ${key}: ${message}`, { key });
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

function checkHosts(v: unknown): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) bad('hosts', 'must be a list of DNS names or IP addresses');
  v.forEach((h, i) => {
    if (typeof h !== 'string' || h === '') bad(`hosts[${i}]`, 'must be a non-empty string');
  });
  try {
    sanHosts(v as string[]);
  } catch (e) {
    bad('hosts', (e as Error).message);
  }
  return [...(v as string[])];
}

/** Validates raw config merged with the environment; relative paths resolve against `baseDir`. Creates dataDir (0700, also set on an existing one). */
export function buildHubConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env, baseDir = process.cwd()): HubConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('(root)', 'must be an object');
  const { hosts: rawHosts, ...rest } = raw as Record<string, unknown>;
  for (const [name, key] of Object.entries(HUB_ENV_KEYS)) if (env[name] !== undefined && env[name] !== '') rest[key] = env[name];
  const v = validateAgainst(HUB_CONFIG_SCHEMA, rest) as Omit<HubConfig, 'databaseTarget' | 'hosts'>;
  const hosts = checkHosts(rawHosts);
  const dataDir = resolve(baseDir, v.dataDir);
  const caDir = resolve(baseDir, v.caDir);
  try {
    secureDataDir(dataDir);
  } catch (e) {
    bad('dataDir', `cannot create ${dataDir} or make it 0700: ${(e as Error).message}`);
  }
  if (!existsSync(join(caDir, 'ca.pem')) || !existsSync(join(caDir, 'ca.key'))) bad('caDir', `${caDir} holds no ca.pem + ca.key (run \`credit ca init --dir ${caDir}\`)`);
  return deepFreeze({ ...v, dataDir, caDir, hosts, databaseTarget: v.databaseUrl ?? join(dataDir, 'hub.sqlite') });
}

/** Reads and validates a JSON config file (plus the environment). */
export function loadHubConfig(file: string, env: NodeJS.ProcessEnv = process.env): HubConfig {
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
  return buildHubConfig(raw, env, dirname(resolve(file)));
}
