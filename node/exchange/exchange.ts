/**
 * The node's side of the hub exchange, assembled: identity (keys from DATADIR/exchange/), the HTTP
 * client, the outbox hooks, and six loops — sender, puller, witness, renewal, crl, catalog — started
 * and stopped with the app (app.ts). Without `hub` in the config none of this exists.
 * The crl loop fetches the hub's CRL (and, enrolled with an SM2 key, its SM2 CRL; a 404 for it is warned once, ERR_SM2_CA_ABSENT) (at start, then every CRL_REFRESH_MS, sooner when its
 * nextUpdate is near); the hub's certificate is checked against it on every new TLS connection
 * and every envelope, so a revoked hub is refused (ERR_CERT_REVOKED), and once the CRL is past its
 * nextUpdate everything from the hub is (ERR_CRL_STALE) until a current one is fetched.
 * The catalog loop keeps the province supplementary catalog current (catalog-sync.ts): the stored
 * one is installed when the exchange is built, the hub's is fetched at start and every
 * CATALOG_REFRESH_MS, and the puller asks for it when a record needs a newer serial.
 */
import type { Knex } from 'knex';
import type { AuditLog } from '../../audit/log.js';
import { latestCosignature } from '../../audit/cosign-store.js';
import { nodeAuditSigner } from './audit-signer.js';
import { HUB_NODE_ID } from '../../certs/issue.js';
import type { HubConfig, NodeConfig } from '../config.js';
import type { RecordHooks } from '../hooks.js';
import type { AuditWriter } from '../records-service.js';
import { parseCrl } from '../../certs/crl.js';
import { loadExchangeMaterial, writeCrl, writeHubCert, writeHubSm2Cert, writeSm2Crl, type ExchangeMaterial } from './files.js';
import { SM_SUITE, describeSuite, suiteAllowed } from '../../protocol/suites.js';
import { certFromPem, keyKind, privateKeyFromPem } from '../../protocol/crypto.js';
import type { ProtocolInfo } from '../../protocol/exchange.js';
import { CATALOG_REFRESH_MS, createCatalogSync, type CatalogSync } from './catalog-sync.js';
import { createHubClient, type HubClient } from './hub-client.js';
import { createIdentity, type ExchangeIdentity } from './identity.js';
import { createLoop, failureFields, type Log, type Loop } from './loop.js';
import { outboxHooks, sendableClasses } from './outbox-hooks.js';
import { outboxStore } from './outbox-store.js';
import { createPuller, type Puller } from './puller.js';
import { createRenewal, renewalTime, type Renewal } from './renewal.js';
import { createSender, type Sender } from './sender.js';
import { createNotices, type Notices } from './objections-notices.js';
import { createWitness, type HubRefusal, type Witness } from './witness.js';
import { hubWitnessResetStore } from '../hub-witness-reset-store.js';

/** The audit log calls the exchange needs for witnessing and for switching the signer at renewal. */
export type WitnessableLog = Pick<AuditLog, 'checkpoint' | 'latestCheckpoint' | 'setSigner' | 'signerFingerprint' | 'record' | 'hashAlg'>;

export interface ExchangeOptions {
  config: NodeConfig & { hub: HubConfig };
  db: Knex;
  audit: AuditWriter;
  /** The node's audit log when it is signed with the node key: enables witnessing and signer swaps. */
  auditLog?: WitnessableLog;
  clock: () => Date;
  log: Log;
  /** Default: read from DATADIR/exchange/. */
  material?: ExchangeMaterial;
  /** Rows the distribution feed added (node/planner-stats.ts). */
  grew?: (rows: number) => void;
}

export interface ExchangeStatus {
  nodeId: string;
  hubUrl: string;
  grade: number;
  certificate: { serial: string; notAfter: string; renewFrom: string };
  outbox: { pending: number };
  batches: { pending: number; accepted: number; refused: number; lastSeq: number };
  inbox: { cursor: number; applied: number };
  witness: { treeSize: number; cosignedAt: string } | null;
  /** The hub's audit checkpoints this node refuses to cosign, round after round (a rolled-back hub log: ERR_AUDIT_…), or null. */
  hubCheckpointRefused: HubRefusal | null;
  /** The witness reset of the hub's log armed and not used yet (docs/audit-format.md §10b), or null. */
  hubWitnessReset: { id: number; restoredTo: string; armedAt: string; expiresAt: string; abandonTo: number; expired: boolean } | null;
  /** The province supplementary catalog this node holds. */
  provinceCatalog: { serial: number; publishedAt: string; types: string[] } | null;
  lastError: { loop: string; code: string; message: string; at: string } | null;
}

export interface Exchange {
  hooks: RecordHooks;
  identity: ExchangeIdentity;
  client(): HubClient;
  sender: Sender;
  puller: Puller;
  renewal: Renewal;
  witness: Witness | null;
  /** Objection notices to and from other nodes through the hub (protocol 1.1). */
  notices: Notices;
  /** Queues own records that were never queued (written before the node was connected, or of a class a higher grade now allows). Returns how many. */
  backfill(): Promise<number>;
  /** backfill(), then the loops. */
  start(): Promise<void>;
  /** Stops the loops (aborting their hub requests) and closes the HTTP client. */
  stop(): Promise<void>;
  status(): Promise<ExchangeStatus>;
  /** Fetches the hub certificate from GET /v1/protocol (after the hub renewed its own). */
  refreshHubCert(): Promise<void>;
  /** Fetches the hub's CRL (GET /v1/crl), checks it against the CA, adopts and stores it when newer; with an SM2 identity, the SM2 CRL (GET /v1/crl/sm2) too, against the SM2 root. */
  refreshCrl(signal?: AbortSignal): Promise<void>;
  /** The province supplementary catalog: stored copy, fetch and adoption. */
  catalog: CatalogSync;
  /** When a loop last finished a step talking to the hub, and since when every step has failed (null: not failing). */
  contact(): { lastAt: Date | null; failingSince: Date | null };
  /** Since when the hub answers 404 for the SM2 CRL though this node is enrolled with an SM2 key (null: it serves it). */
  sm2CrlAbsentSince(): Date | null;
}

/**
 * From the hub's GET /v1/protocol: its certificate for the suite of this node's key (`suiteCerts`,
 * the first admitted suite of the key's type), else `hubCertPem` when that is of the key's type
 * (a hub before `suiteCerts`); undefined when the hub offers nothing this key can use.
 */
export function hubCertForKey(info: ProtocolInfo, keyPem: string): string | undefined {
  const kind = keyKind(privateKeyFromPem(keyPem));
  for (const name of info.suites) {
    const pem = info.suiteCerts?.[name];
    if (pem !== undefined && describeSuite(name)?.keyType === kind) return pem;
  }
  return certFromPem(info.hubCertPem).keyKind === kind ? info.hubCertPem : undefined;
}

/** How often the node fetches the hub's CRL (the hub signs a new one each minute, valid 7 days). */
export const CRL_REFRESH_MS = 15 * 60_000;

const BACKFILL_KEY = 'outbox.backfill.grade';

export async function createExchange(o: ExchangeOptions): Promise<Exchange> {
  const { config, db, audit, clock, log } = o;
  const hub = config.hub;
  const material = o.material ?? loadExchangeMaterial(config.dataDir, config.nodeId);
  const identity = await createIdentity(material, (pem) => writeHubCert(config.dataDir, pem), (pem) => writeCrl(config.dataDir, pem), (pem) => writeHubSm2Cert(config.dataDir, pem), hub.suites, (pem) => writeSm2Crl(config.dataDir, pem));
  const client = createHubClient({
    url: hub.url, caCertPem: material.caCertPem, certPem: material.certPem, keyPem: material.keyPem, timeoutMs: hub.timeoutMs,
    checkHubCert: (pem) => void identity.trust().verifySigner(pem, clock()),
    beforeRequest: () => identity.assertCrlCurrent(clock()),
    // on the national suite the hub seals the feeds this node fetches to its SM2 certificate
    sm2CertPem: () => {
      const m = identity.current();
      return m.sm2 !== undefined && suiteAllowed(SM_SUITE, identity.suites) ? m.sm2.certPem : undefined;
    },
  });
  let certPem = material.certPem;
  let sm2CertPem = material.sm2?.certPem;
  identity.onChange((m) => {
    const tlsChanged = m.certPem !== certPem;
    const sm2Changed = m.sm2?.certPem !== sm2CertPem;
    if (!tlsChanged && !sm2Changed) return;
    certPem = m.certPem;
    sm2CertPem = m.sm2?.certPem;
    if (tlsChanged) client.setIdentity({ certPem: m.certPem, keyPem: m.keyPem });
    // the audit log signs with the key of its algorithm: the renewed SM2 key for a log on SM, else the renewed TLS key
    const sm3 = o.auditLog?.hashAlg === 'sm3';
    if (sm3 ? sm2Changed : tlsChanged) o.auditLog?.setSigner(nodeAuditSigner(sm3 ? 'sm3' : 'sha256', m));
  });
  const getClient = () => client;

  let lastError: ExchangeStatus['lastError'] = null;
  let lastContactAt: Date | null = null;
  let failingSince: Date | null = null;
  let applied = 0;
  const loops: Loop[] = [];
  const loop = (name: string, step: (signal: AbortSignal) => Promise<number>) => {
    const l = createLoop({
      name,
      log,
      step: async (signal) => {
        try {
          const wait = await step(signal);
          if (lastError?.loop === name) lastError = null;
          lastContactAt = clock();
          failingSince = null;
          return wait;
        } catch (e) {
          if (!signal.aborted) lastError = { loop: name, ...failureFields(e), message: (e as Error).message, at: clock().toISOString() };
          if (!signal.aborted) failingSince ??= clock();
          throw e;
        }
      },
    });
    loops.push(l);
    return l;
  };

  async function refreshHubCert(): Promise<void> {
    const info = await client.getProtocol();
    // the hub certificate of this node's suite (its key type: an EC node encrypts to the hub's EC certificate)
    const pem = hubCertForKey(info, identity.current().keyPem);
    if (pem === undefined) return;
    if (identity.trust().verifySigner(pem, clock()).nodeId !== HUB_NODE_ID) return;
    if (pem === identity.current().hubCertPem) return;
    writeHubCert(config.dataDir, pem);
    await identity.swap({ hubCertPem: pem });
    log.info({}, 'hub exchange: hub certificate refreshed');
  }

  let sm2CrlAbsentSince: Date | null = null;
  async function refreshCrl(signal?: AbortSignal): Promise<void> {
    const pem = await client.getCrl(signal);
    if (await identity.setCrl(pem)) {
      client.reconnect(); // open connections were checked against the previous CRL
      log.debug({}, 'hub exchange: CRL refreshed');
    }
    // enrolled with an SM2 key: keep the SM2 root's CRL too (evidence halves of an SM log carry it); a hub without one answers 404
    if (identity.current().sm2 === undefined) return;
    const sm2Pem = await client.getSm2Crl(signal);
    if (sm2Pem === null) {
      // the hub that enrolled this node's SM2 key lost its SM2 root (or a process behind the balancer has none): warned once, /readyz reports it
      if (sm2CrlAbsentSince === null) {
        sm2CrlAbsentSince = clock();
        const held = identity.current().sm2CrlPem !== undefined;
        log.warn({ code: 'ERR_SM2_CA_ABSENT', held }, `hub exchange: the hub does not serve its SM2 CRL (GET /v1/crl/sm2: 404) though this node is enrolled with an SM2 key; ${held ? 'the one held is kept until its nextUpdate, then /readyz reports it stale' : 'none is held: /readyz reports it'} [ERR_SM2_CA_ABSENT]`);
      }
      return;
    }
    if (sm2CrlAbsentSince !== null) log.info({ absentSince: sm2CrlAbsentSince.toISOString() }, 'hub exchange: the hub serves its SM2 CRL again');
    sm2CrlAbsentSince = null;
    if (await identity.setSm2Crl(sm2Pem, clock())) log.debug({}, 'hub exchange: SM2 CRL refreshed');
  }

  const catalog = createCatalogSync({ dataDir: config.dataDir, identity, client: getClient, audit, clock, log });
  await catalog.loadStored();

  let witnessLoop: Loop | undefined;
  if (hub.unsignedSeqRefusals) {
    log.warn({ key: 'hub.unsignedSeqRefusals' }, "hub exchange: the hub's unsigned seq refusals are acted on (hub.unsignedSeqRefusals): anything between node and hub can make this node re-send or renumber its batches; remove the key once the hub runs protocol 1.2");
  }
  const sender = createSender({ db, audit, identity, client: getClient, clock, log, hub, refreshHubCert, onReceipts: () => witnessLoop?.wake() });
  const puller = createPuller({ db, audit, identity, client: getClient, clock, log, hub, catalog, ...(o.grew ? { grew: o.grew } : {}) });
  const renewal = createRenewal({ identity, client: getClient, audit, clock, log, dataDir: config.dataDir, renewAt: hub.renewAt, suites: hub.suites, beforeKeyChange: () => sender.noteReceiptItems() });
  const witness = o.auditLog ? createWitness({ db, log: o.auditLog as AuditLog, identity, client: getClient, clock, logger: log, hub, dataDir: config.dataDir }) : null;

  const senderLoop = loop('sender', (s) => sender.step(s));
  loop('puller', async (s) => {
    const r = await puller.pullOnce(s);
    applied += r ? r.records + r.withdrawals : 0;
    return r?.more ? 0 : hub.pollIntervalMs;
  });
  loop('renewal', (s) => renewal.step(s));
  loop('crl', async (s) => {
    await refreshCrl(s);
    const next = identity.current().crlPem ? (await parseCrl(identity.current().crlPem!)).nextUpdate : undefined;
    const half = next ? Math.max(1000, (next.getTime() - clock().getTime()) / 2) : CRL_REFRESH_MS;
    return Math.min(CRL_REFRESH_MS, half);
  });
  loop('catalog', async (s) => {
    await catalog.refresh(s);
    return CATALOG_REFRESH_MS;
  });
  if (witness) witnessLoop = loop('witness', (s) => witness.step(s));
  const notices = createNotices({ db, audit, identity, client: getClient, clock, log, pollIntervalMs: hub.pollIntervalMs });
  const noticesLoop = loop('notices', (s) => notices.step(s));
  notices.setWake(() => noticesLoop.wake());

  const hooks = outboxHooks({ nodeId: config.nodeId, grade: () => identity.current().enrolment.grade, clock, onCommit: () => senderLoop.wake() });

  async function backfill(): Promise<number> {
    const grade = identity.current().enrolment.grade;
    const done = Number((await outboxStore.getState(db, BACKFILL_KEY)) ?? 0);
    if (done >= grade) return 0;
    const n = await db.transaction(async (trx) => {
      const at = clock().toISOString();
      const count = await outboxStore.backfill(trx, config.nodeId, sendableClasses(grade), at);
      await outboxStore.setState(trx, BACKFILL_KEY, String(grade), at);
      return count;
    });
    if (n > 0) log.info({ records: n, grade }, 'hub exchange: queued records written before this node was connected');
    return n;
  }

  let started = false;
  return {
    hooks,
    identity,
    client: getClient,
    sender,
    puller,
    renewal,
    witness,
    notices,
    refreshHubCert,
    refreshCrl,
    catalog,
    backfill,
    async start() {
      if (started) return;
      started = true;
      await refreshCrl().catch((e: unknown) => log.warn(failureFields(e), 'hub exchange: CRL not fetched at start; the crl loop retries'));
      await catalog.refresh().catch((e: unknown) => log.warn(failureFields(e), 'hub exchange: province catalog not fetched at start; the catalog loop retries'));
      await backfill();
      refreshHubCert().catch((e: unknown) => log.debug(failureFields(e), 'hub exchange: hub certificate not refreshed'));
      for (const l of loops) l.start();
      log.info({ hub: hub.url, grade: identity.current().enrolment.grade }, 'hub exchange started');
    },
    async stop() {
      started = false;
      await Promise.all(loops.map((l) => l.stop()));
      await client.close();
    },
    contact: () => ({ lastAt: lastContactAt, failingSince }),
    sm2CrlAbsentSince: () => sm2CrlAbsentSince,
    async status() {
      const m = identity.current();
      const backlog = await outboxStore.backlog(db);
      const counts = (await db('node_batches').select('status').count({ n: '*' }).groupBy('status')) as { status: string; n: number | string }[];
      const by = Object.fromEntries(counts.map((c) => [c.status, Number(c.n)]));
      const top = (await db('node_batches').max({ m: 'seq' }).first()) as { m?: number | string | null } | undefined;
      const cos = await latestCosignature(db);
      const arm = await hubWitnessResetStore.pending(db);
      return {
        nodeId: m.nodeId,
        hubUrl: hub.url,
        grade: m.enrolment.grade,
        certificate: { serial: m.enrolment.serial, notAfter: m.enrolment.notAfter, renewFrom: renewalTime(m.certPem, hub.renewAt).toISOString() },
        outbox: { pending: backlog.unbatched },
        batches: { pending: backlog.unacknowledged, accepted: by.accepted ?? 0, refused: by.refused ?? 0, lastSeq: Number(top?.m ?? 0) },
        inbox: { cursor: await puller.cursor(), applied },
        witness: cos ? { treeSize: cos.treeSize, cosignedAt: cos.cosignedAt } : null,
        hubCheckpointRefused: witness?.refusal() ?? null,
        hubWitnessReset: arm ? { id: arm.id, restoredTo: arm.restoredTo, armedAt: arm.armedAt, expiresAt: arm.expiresAt, abandonTo: arm.abandonTo, expired: Date.parse(arm.expiresAt) <= clock().getTime() } : null,
        provinceCatalog: catalog.held(),
        lastError,
      };
    },
  };
}
