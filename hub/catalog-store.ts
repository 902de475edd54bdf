/** The province catalogs the hub operator published (table hub_catalogs, migration 004): the only SQL about them. */
import type { Knex } from 'knex';

type Db = Knex | Knex.Transaction;

export interface StoredCatalog {
  serial: number;
  digest: string;
  publishedAt: string;
  document: string;
}

export const catalogStore = {
  /** Serial and digest of the newest catalog, without the document (checked before every batch). */
  async head(db: Db): Promise<{ serial: number; digest: string } | null> {
    const r = (await db('hub_catalogs').select('serial', 'digest').orderBy('serial', 'desc').first()) as { serial: number | string; digest: string } | undefined;
    return r ? { serial: Number(r.serial), digest: r.digest } : null;
  },

  async latest(db: Db): Promise<StoredCatalog | null> {
    const r = (await db('hub_catalogs').orderBy('serial', 'desc').first()) as { serial: number | string; digest: string; published_at: string; document: string } | undefined;
    return r ? { serial: Number(r.serial), digest: r.digest, publishedAt: r.published_at, document: r.document } : null;
  },

  async insert(db: Db, c: StoredCatalog): Promise<void> {
    await db('hub_catalogs').insert({ serial: c.serial, digest: c.digest, published_at: c.publishedAt, document: c.document });
  },
};
