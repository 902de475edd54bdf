/**
 * The only reader of the hub's config file and environment: one schema (config-schema.ts),
 * defaults filled in, relative paths resolved against the config file's folder, deeply frozen.
 * Fails fast with ERR_CONFIG_INVALID naming the key.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AuditHashAlg } from '../audit/crypto.js';
import { secureDataDir } from '../audit/store-files.js';
import { sanHosts } from '../certs/issue.js';
import { validateAgainst } from '../protocol/config-check.js';
import { usableSuites } from '../protocol/suites.js';
import { serviceError } from '../protocol/service-errors.js';
import { readConfigJson } from '../server/config-file.js';
import type { AccountsConfig } from '../server/accounts-config.js';
import { checkTrustProxy } from '../server/trust-proxy.js';
import { HUB_CONFIG_SCHEMA } from './config-schema.js';

export interface HubConfig {
  dataDir: string;
  caDir: string;
  /** Where the store lives: DATADIR/hub.sqlite, or a postgres:// URL. */
  databaseTarget: string;
  databaseUrl?: string;
  /** A read replica of databaseUrl (PostgreSQL streaming standby) for query lookups and quality reports. */
  databaseReadUrl?: string;
  databaseReadMaxLagMs: number;
  databaseReadTimeoutMs: number;
  listen: { host: string; port: number };
  /** Extra SANs of the hub certificate (besides localhost and 127.0.0.1). */
  hosts: string[];
  nodeCertDays: number;
  nodeCertSeconds?: number;
  renewMinIntervalSeconds: number;
  renewOverlapSeconds: number;
  windowMs: number;
  maxEnvelopeBytes: number;
  /** Nodes whose batches one hub process takes at once, two batches each (hub/batch-admission.ts); default 4. */
  intakeMaxNodes: number;
  /** While other nodes wait, a node keeps its place this long before giving way (hub/batch-admission.ts); default 5 s. */
  intakeTurnMs: number;
  /** An admitted batch upload may take this long plus 1 s per 32 KiB (hub/batch-admission.ts); default 30 s. */
  batchUploadGraceMs: number;
  bodyLimitBytes: number;
  rateLimit: { enabled: boolean; max: number; timeWindowMs: number };
  logLevel: string;
  shutdownTimeoutMs: number;
  /** Pruning of settled hub_envelopes rows (audit/exchange-retention.ts). */
  retention: { exchangeDays: number; intervalMinutes: number };
  /** Suite policy (families RSA/EC/SM or suite names): envelopes in any other suite are refused (ERR_SUITE_REFUSED); unset = every usable suite. */
  suites?: string[];
  /** Operator accounts: password policy, sessions, lockout (server/accounts-config.ts). */
  accounts: AccountsConfig;
  /** TLS gateways whose X-Forwarded-For is believed (addresses, CIDRs; server/trust-proxy.ts); empty: none. */
  trustProxy: string[];
  /** With trustProxy: whether a connection from a listed address must begin with a PROXY header (L4 balancers) or may not (TLS gateways too). */
  proxyProtocol: 'optional' | 'required';
  /** Encryption at rest: the data key file and its wrapper (server/config-schema.ts atRestOptions). */
  atRest?: { keyFile?: string; keyWrapper?: string };
  /** The audit log: `hashAlg` only when the config file sets it (server/config-schema.ts AUDIT_SCHEMA). */
  audit?: { hashAlg?: AuditHashAlg };
  /**
   * The operator console's listener (hub/console/); absent: no console. Without `tls` it serves the
   * hub's own certificate (hub.pem, from the provincial CA), unless `allowPlaintext` asks for plain HTTP.
   */
  console?: { listen: { host: string; port: number; tls?: { certFile: string; keyFile: string }; allowPlaintext: boolean } };
}

/** Environment variables the hub reads, and the config key each sets. */
export const HUB_ENV_KEYS: Record<string, string> = { DATABASE_URL: 'databaseUrl', DATABASE_READ_URL: 'databaseReadUrl', CREDIT_LOG_LEVEL: 'logLevel' };

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

/** `suites`: a non-empty list of suite families (RSA, EC, SM) or usable suite names. */
function checkSuites(v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length === 0) bad('suites', 'must be a non-empty list such as ["SM"]');
  v.forEach((s, i) => {
    if (typeof s !== 'string' || !(['RSA', 'EC', 'SM'].includes(s) || usableSuites().includes(s))) bad(`suites[${i}]`, `must be RSA, EC, SM or one of ${usableSuites().join(', ')}`);
  });
  return [...(v as string[])];
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

/**
 * Validates raw config merged with the environment; relative paths resolve against `baseDir`.
 * Changes nothing on disk (`start` creates dataDir after its checks: hub/server.ts).
 */
export function readHubConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env, baseDir = process.cwd()): HubConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('(root)', 'must be an object');
  const { hosts: rawHosts, suites: rawSuites, trustProxy: rawTrustProxy, ...rest } = raw as Record<string, unknown>;
  for (const [name, key] of Object.entries(HUB_ENV_KEYS)) if (env[name] !== undefined && env[name] !== '') rest[key] = env[name];
  // the schema fills defaults into `console` even when the file has none: a console only when asked for
  const wantsConsole = rest.console !== undefined;
  const v = validateAgainst(HUB_CONFIG_SCHEMA, rest) as Omit<HubConfig, 'databaseTarget' | 'hosts' | 'trustProxy'>;
  const hosts = checkHosts(rawHosts);
  const trustProxy = checkTrustProxy(rawTrustProxy);
  const suites = checkSuites(rawSuites);
  const dataDir = resolve(baseDir, v.dataDir);
  const caDir = resolve(baseDir, v.caDir);
  if (existsSync(dataDir) && !statSync(dataDir).isDirectory()) bad('dataDir', `${dataDir} is not a directory`);
  if (!existsSync(join(caDir, 'ca.pem')) || !existsSync(join(caDir, 'ca.key'))) bad('caDir', `${caDir} holds no ca.pem + ca.key (run \`credit ca init --dir ${caDir}\`)`);
  if (v.databaseReadUrl !== undefined && v.databaseUrl === undefined) bad('databaseReadUrl', 'a read replica needs the primary on PostgreSQL too: set databaseUrl (env DATABASE_URL)');
  const { console: consoleConfig, ...settings } = v;
  const consoleTls = consoleConfig?.listen.tls ? { certFile: resolve(baseDir, consoleConfig.listen.tls.certFile), keyFile: resolve(baseDir, consoleConfig.listen.tls.keyFile) } : undefined;
  return deepFreeze({
    ...settings, dataDir, caDir, hosts, trustProxy, ...(suites === undefined ? {} : { suites }), databaseTarget: v.databaseUrl ?? join(dataDir, 'hub.sqlite'),
    ...(consoleConfig && wantsConsole ? { console: { listen: { ...consoleConfig.listen, ...(consoleTls ? { tls: consoleTls } : {}) } } } : {}),
  });
}

/** readHubConfig, then creates dataDir (0700, also set on an existing one), as every command but `start` expects. */
export function buildHubConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env, baseDir = process.cwd()): HubConfig {
  const config = readHubConfig(raw, env, baseDir);
  try {
    secureDataDir(config.dataDir);
  } catch (e) {
    bad('dataDir', `cannot create ${config.dataDir} or make it 0700: ${(e as Error).message}`);
  }
  return config;
}

/** Reads and validates a JSON config file (plus the environment); creates dataDir (buildHubConfig). */
export function loadHubConfig(file: string, env: NodeJS.ProcessEnv = process.env): HubConfig {
  const { raw, baseDir } = readConfigJson(file);
  return buildHubConfig(raw, env, baseDir);
}

/** Reads and validates a JSON config file (plus the environment) without changing anything on disk. */
export function readHubConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): HubConfig {
  const { raw, baseDir } = readConfigJson(file);
  return readHubConfig(raw, env, baseDir);
}
