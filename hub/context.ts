/** What the composition root (app.ts) builds once and hands to services and routes. */
import type { Knex } from 'knex';
import type { AuditLog } from '../audit/log.js';
import type { TrustPolicy } from '../protocol/trust.js';
import type { HubCa } from './ca-store.js';
import type { HubConfig } from './config.js';
import type { HubMetrics } from './metrics.js';
import type { ReplicaReader } from './replica.js';
import type { PlannerStats } from './planner-stats.js';

export interface HubIdentity {
  keyPem: string;
  certPem: string;
  /** The hub's EC P-256 key and certificate (CN 430000) from the RSA root (hub/identity.ts): suite CF1-ECDH-ES-A256KW-A256GCM-ES256. */
  ec?: { keyPem: string; certPem: string };
  /** The hub's SM2 key and certificate (CN 430000) from the SM2 root, when the CA directory has one (hub/sm2-identity.ts). */
  sm2?: { keyPem: string; certPem: string; caCertPem: string };
}

export interface HubDeps {
  config: HubConfig;
  db: Knex;
  /** Reads that must not wait for a write transaction (the per-request client check): a second SQLite connection, or `db` on PostgreSQL. */
  reader: Knex;
  /**
   * The read replica (config databaseReadUrl: a streaming standby), or null: the province queries'
   * subject scan (keys only; rows are read on the primary) and the quality reports (hub/replica.ts).
   * Never for what must be current: revocation, replay, sequence and token checks, record content.
   */
  replica: ReplicaReader | null;
  audit: AuditLog;
  /** The provincial CA with its register and tokens in the hub database. */
  ca: HubCa;
  /** The hub's own key and certificate (CN 430000): TLS, envelope signatures, receipts, audit checkpoints. */
  identity: HubIdentity;
  /** Chain + validity + node-id checks against the CA (revocation is looked up per request in the database). */
  trust: TrustPolicy;
  clock: () => Date;
  metrics: HubMetrics;
  /** HMAC key for subject codes in the audit log (kept in hub_settings, shared by every hub process). */
  subjectKey: Buffer;
  /** Keeps PostgreSQL's planner statistics current as batches add records (hub/planner-stats.ts); absent in some tests. */
  plannerStats?: PlannerStats;
}
