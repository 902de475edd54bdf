/**
 * The store behind a config file, as the exchange-log and evidence commands need it: a hub
 * config (it has "caDir") opens the hub's store, anything else is a node config. Either way: the
 * evidence table, the audit log (same database), the side's signing key and certificate, the CA
 * certificate and the newest CRL the side holds, of the root its signer chains to (the hub builds
 * one from its register: the RSA CRL, or on an SM log the SM2 root's; a node has the last one it
 * fetched from the hub, DATADIR/exchange/crl.pem or on an SM log exchange/sm2-crl.pem, if any).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { connect, isPostgresUrl } from '../../audit/knex-connect.js';
import type { EvidenceTable } from '../../audit/evidence-store.js';
import { HUB_NODE_ID } from '../../certs/issue.js';
import { buildCrl, buildSm2RegisterCrl } from '../../certs/revoke.js';
import { openExistingHubStore } from '../../hub/admin-store.js';
import { openHubCa } from '../../hub/ca-store.js';
import { loadHubConfig } from '../../hub/config.js';
import { HUB_FILES } from '../../hub/identity.js';
import { HUB_SM2_FILES } from '../../hub/sm2-identity.js';
import { auditError } from '../../audit/errors.js';
import { readHashAlg } from '../../audit/log-meta.js';
import type { AuditSigner } from '../../audit/signer.js';
import { nodeAuditSigner } from '../../node/exchange/audit-signer.js';
import { HUB_EVIDENCE_TABLE } from '../../hub/evidence-log.js';
import { loadConfig } from '../../node/config.js';
import { loadExchangeMaterial } from '../../node/exchange/files.js';
import { NODE_EVIDENCE_TABLE } from '../../node/exchange/evidence-log.js';
import { cliError } from '../errors.js';

export interface ExchangeSide {
  role: 'node' | 'hub';
  nodeId: string;
  db: Knex;
  table: EvidenceTable;
  signer: { keyPem: string; certPem: string };
  caCertPem: string;
  crlPem(): Promise<string | null>;
}

function isHubConfig(file: string): boolean {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw cliError('ERR_USAGE', `--config ${file}: cannot read it as JSON: ${(e as Error).message}`);
  }
  return typeof raw === 'object' && raw !== null && 'caDir' in raw;
}

function readOrUsage(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    throw cliError('ERR_USAGE', `${what} ${file} cannot be read`);
  }
}

async function openHub(file: string): Promise<ExchangeSide> {
  const config = loadHubConfig(file);
  const db = await openExistingHubStore(config);
  try {
    return await hubSide(config, db);
  } catch (e) {
    await db.destroy(); // a refusal (no SM2 root, a key file missing) must not leave the store open: the command would never exit
    throw e;
  }
}

async function hubSide(config: ReturnType<typeof loadHubConfig>, db: Knex): Promise<ExchangeSide> {
  const ca = openHubCa(db, config.caDir);
  // a store whose audit log is on SM signs (checkpoints, evidence halves) with the hub's SM2 key, chained to the SM2 root
  if ((await readHashAlg(db)) === 'sm3') {
    const sm2 = ca.sm2;
    if (!sm2) throw auditError('ERR_AUDIT_ALGORITHM_MIXED', `the hub's audit log is on SM (sm3) but ${config.caDir} holds no SM2 root (sm2-ca.pem)`);
    return {
      role: 'hub', nodeId: HUB_NODE_ID, db, table: HUB_EVIDENCE_TABLE, caCertPem: sm2.certPem,
      signer: { keyPem: readOrUsage(join(config.dataDir, HUB_SM2_FILES.key), 'the hub SM2 key'), certPem: readOrUsage(join(config.dataDir, HUB_SM2_FILES.cert), 'the hub SM2 certificate') },
      crlPem: () => buildSm2RegisterCrl(ca, sm2.issuer, { nextUpdateDays: 7 }),
    };
  }
  return {
    role: 'hub', nodeId: HUB_NODE_ID, db, table: HUB_EVIDENCE_TABLE, caCertPem: ca.certPem,
    signer: { keyPem: readOrUsage(join(config.dataDir, HUB_FILES.key), 'the hub key'), certPem: readOrUsage(join(config.dataDir, HUB_FILES.cert), 'the hub certificate') },
    crlPem: () => buildCrl(ca, { nextUpdateDays: 7 }),
  };
}

async function openNode(file: string): Promise<ExchangeSide> {
  const config = loadConfig(file);
  const target = config.databaseTarget;
  if (!isPostgresUrl(target) && !existsSync(target)) throw cliError('ERR_USAGE', `no node store at ${target}: start the node once with \`credit node start --config ${file}\``);
  const m = loadExchangeMaterial(config.dataDir, config.nodeId);
  const db = await connect(target);
  // a store whose audit log is on SM signs with the node's SM2 key, chained to the SM2 root
  let signer: AuditSigner;
  try {
    signer = nodeAuditSigner(await readHashAlg(db), m);
  } catch (e) {
    await db.destroy();
    throw e;
  }
  const onSm2 = signer.certPem !== m.certPem;
  return {
    role: 'node', nodeId: config.nodeId, db, table: NODE_EVIDENCE_TABLE, caCertPem: onSm2 ? m.sm2!.caCertPem : m.caCertPem,
    signer: { keyPem: signer.keyPem, certPem: signer.certPem },
    crlPem: async () => (onSm2 ? m.sm2CrlPem : m.crlPem) ?? null,
  };
}

/** Opens the side named by the config; `fn` runs with it, the store is closed after. */
export async function withSide<T>(configFile: string, fn: (side: ExchangeSide) => Promise<T>): Promise<T> {
  const side = isHubConfig(configFile) ? await openHub(configFile) : await openNode(configFile);
  try {
    if (!(await side.db.schema.hasTable(side.table))) {
      throw cliError('ERR_USAGE', `the ${side.role} store of ${configFile} keeps no exchange log yet: start the ${side.role} once with this version`);
    }
    return await fn(side);
  } finally {
    await side.db.destroy();
  }
}
