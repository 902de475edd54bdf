/**
 * The hub's side of the province supplementary catalog (地方补充目录): publishing a new serial
 * (`credit hub catalog publish`, beside a running hub or not), and keeping this process's catalog
 * (protocol/catalog-registry.ts) at the newest published serial — at start, before every batch
 * (so a batch is checked against what the operator last published, whichever hub process
 * received it) and before serving GET /v1/catalog. A stored document is verified again before it
 * is installed: a row edited in the database is refused like a tampered download.
 */
import type { Knex } from 'knex';
import { HUB_NODE_ID } from '../certs/issue.js';
import { assertCatalogDraft, type CatalogBody } from '../protocol/catalog-document.js';
import { installProvinceCatalog, provinceCatalog } from '../protocol/catalog-registry.js';
import { catalogDigest, openCatalog, signCatalog } from '../protocol/catalog-signature.js';
import { RECORD_TYPES_BY_CODE } from '../protocol/catalog-types.js';
import type { TrustPolicy } from '../protocol/trust.js';
import { catalogStore, type StoredCatalog } from './catalog-store.js';
import type { HubIdentity } from './context.js';

export const NATIONAL_CODES: ReadonlySet<string> = new Set(RECORD_TYPES_BY_CODE.keys());

/**
 * Installs the newest published catalog when this process holds another (or none); returns its
 * serial and digest (null when none is published). One small query when nothing changed.
 */
export async function syncProvinceCatalog(deps: { db: Knex; trust: TrustPolicy; clock: () => Date }): Promise<{ serial: number; digest: string } | null> {
  const head = await catalogStore.head(deps.db);
  const held = provinceCatalog();
  if (head === null) {
    if (held !== null) installProvinceCatalog(null);
    return null;
  }
  if (held?.serial === head.serial && held.digest === head.digest) return head;
  const latest = await catalogStore.latest(deps.db);
  if (latest === null) return null;
  const opened = await openCatalog(latest.document, { trust: deps.trust, nationalCodes: NATIONAL_CODES, hubNodeId: HUB_NODE_ID, now: deps.clock() });
  installProvinceCatalog(opened.body, opened.digest);
  return latest;
}

/**
 * Checks the operator's draft ({ title, types }), gives it the next serial and the time, signs
 * it with the hub key and stores it. ERR_CATALOG_INVALID / ERR_CATALOG_TYPE_REDEFINED on a bad
 * draft (nothing stored).
 */
export async function publishCatalog(db: Knex, draft: unknown, hub: HubIdentity, at: Date): Promise<{ serial: number; digest: string; publishedAt: string; document: string; types: string[] }> {
  const checked = assertCatalogDraft(draft, NATIONAL_CODES);
  return db.transaction(async (trx) => {
    const head = await catalogStore.head(trx);
    const body: CatalogBody = { title: checked.title, types: checked.types, province: HUB_NODE_ID, serial: (head?.serial ?? 0) + 1, publishedAt: at.toISOString() };
    const document = await signCatalog(body, hub);
    const row = { serial: body.serial, digest: catalogDigest(body), publishedAt: body.publishedAt, document };
    await catalogStore.insert(trx, row);
    return { ...row, types: body.types.map((t) => t.code) };
  });
}
