/**
 * The node's copy of the province supplementary catalog (地方补充目录): fetched from the hub
 * (GET /v1/catalog) at start and by the `catalog` loop, verified (protocol/catalog-signature.ts:
 * the hub's signature, its certificate against the CA and the CRL this node holds), adopted only
 * when its serial is above the one held (an older document is ERR_CATALOG_SERIAL_REPLAY), stored
 * as DATADIR/exchange/province-catalog.json (the document as signed) and installed in this
 * process (protocol/catalog-registry.ts), so records of its types validate here. At start the
 * stored document is verified again before it is installed. Every adoption is audited.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../certs/safe-files.js';
import { HUB_NODE_ID } from '../../certs/issue.js';
import { trustFromCa } from '../../certs/trust.js';
import { installProvinceCatalog, provinceCatalog, provinceSerial } from '../../protocol/catalog-registry.js';
import { catalogSuccession, openCatalog, type OpenedCatalog } from '../../protocol/catalog-signature.js';
import { RECORD_TYPES_BY_CODE } from '../../protocol/catalog-types.js';
import { protocolError } from '../../protocol/errors.js';
import type { DistributionItem } from '../../protocol/exchange.js';
import type { AuditWriter } from '../records-service.js';
import { exchangePaths } from './files.js';
import type { HubClient } from './hub-client.js';
import type { ExchangeIdentity } from './identity.js';
import { failureFields, type Log } from './loop.js';

/** How often the node asks the hub for a newer catalog (also: at start, and when a record needs one). */
export const CATALOG_REFRESH_MS = 15 * 60_000;

const NATIONAL_CODES: ReadonlySet<string> = new Set(RECORD_TYPES_BY_CODE.keys());

export function provinceCatalogPath(dataDir: string): string {
  return join(dataDir, 'exchange', 'province-catalog.json');
}

/**
 * For commands run beside the node (`credit catalog list --config`): installs the stored document
 * after checking it against DATADIR/exchange/ca.pem (and crl.pem when there is one). Returns false
 * when the node holds no province catalog; throws when the stored one does not verify.
 */
export async function installStoredCatalog(dataDir: string, now: Date): Promise<boolean> {
  const path = provinceCatalogPath(dataDir);
  if (!existsSync(path)) return false;
  const p = exchangePaths(dataDir);
  const trust = await trustFromCa({ caCertPem: readFileSync(p.ca, 'utf8'), ...(existsSync(p.crl) ? { crlPem: readFileSync(p.crl, 'utf8') } : {}) });
  const c = await openCatalog(readFileSync(path, 'utf8'), { trust, nationalCodes: NATIONAL_CODES, hubNodeId: HUB_NODE_ID, now });
  installProvinceCatalog(c.body, c.digest);
  return true;
}

export interface CatalogSyncDeps {
  dataDir: string;
  identity: ExchangeIdentity;
  client: () => HubClient;
  audit: AuditWriter;
  clock: () => Date;
  log: Log;
}

export interface CatalogSync {
  /** Installs the stored document when it still verifies; false when there is none or it does not. */
  loadStored(): Promise<boolean>;
  /** Fetches the hub's document and adopts it when newer. Returns the serial held afterwards (0: none). */
  refresh(signal?: AbortSignal): Promise<number>;
  /** The province catalog this node holds (its stored document), or null. */
  held(): { serial: number; publishedAt: string; types: string[] } | null;
}

export function createCatalogSync(deps: CatalogSyncDeps): CatalogSync {
  const { dataDir, identity, clock, log } = deps;
  const path = provinceCatalogPath(dataDir);
  const open = (text: string): Promise<OpenedCatalog> => openCatalog(text, { trust: identity.trust(), nationalCodes: NATIONAL_CODES, hubNodeId: HUB_NODE_ID, now: clock() });

  /** What this node holds: the document in its data directory (the process registry may hold the same or, in tests, another component's). */
  let held: { serial: number; digest: string; publishedAt: string; types: string[] } | null = null;

  function adopt(c: OpenedCatalog): void {
    held = { serial: c.body.serial, digest: c.digest, publishedAt: c.body.publishedAt, types: c.body.types.map((t) => t.code) };
    if ((provinceCatalog()?.serial ?? 0) <= c.body.serial) installProvinceCatalog(c.body, c.digest);
  }

  return {
    held: () => (held ? { serial: held.serial, publishedAt: held.publishedAt, types: [...held.types] } : null),
    async loadStored() {
      if (!existsSync(path)) return false;
      try {
        adopt(await open(readFileSync(path, 'utf8')));
        return true;
      } catch (e) {
        held = null;
        log.warn({ ...failureFields(e), file: path }, 'province catalog: the stored document does not verify; it is not used until a valid one is fetched');
        return false;
      }
    },

    async refresh(signal) {
      const text = await deps.client().getCatalog(signal);
      if (text === null) return held?.serial ?? 0;
      const c = await open(text);
      if (catalogSuccession(held, c) === 'same') return c.body.serial;
      writeFileAtomic(path, text, 0o644);
      adopt(c);
      await deps.audit.record({
        actor: `node:${HUB_NODE_ID}`, actorNode: HUB_NODE_ID, action: 'catalog.adopt', object: `province-catalog:${c.body.serial}`, outcome: 'success',
        reason: `serial=${c.body.serial} types=${c.body.types.map((t) => t.code).join(',')} digest=${c.digest}`,
      });
      log.info({ serial: c.body.serial, types: c.body.types.length }, 'province catalog adopted');
      return c.body.serial;
    },
  };
}

/**
 * A record of a province type names the catalog serial it needs (WireRecord.provinceCatalog).
 * When this node holds an older one it fetches the hub's first; if it still holds an older one
 * it throws ERR_CATALOG_VERSION_UNKNOWN — the puller then applies nothing and keeps its cursor
 * (the loop retries), so no record is dropped for want of its type.
 */
export async function ensureCatalogFor(items: readonly DistributionItem[], catalog: Pick<CatalogSync, 'refresh'> | undefined, signal?: AbortSignal): Promise<void> {
  let need = 0;
  for (const it of items) if (it.kind === 'record' && typeof it.record?.provinceCatalog === 'number') need = Math.max(need, it.record.provinceCatalog);
  if (need <= provinceSerial()) return;
  if (catalog) await catalog.refresh(signal);
  if (need > provinceSerial()) {
    throw protocolError('ERR_CATALOG_VERSION_UNKNOWN', `the hub distributes records of province catalog serial ${need}; this node holds ${provinceSerial() || 'none'} and could not fetch a newer one`, { need, held: provinceSerial() });
  }
}
