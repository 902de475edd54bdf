/**
 * The hub store as the operator's admin commands (`credit hub token|nodes|revoke|crl|…`) open it:
 * only one that `credit hub start` already made. Opening a missing SQLite file would create an
 * empty one (and a PostgreSQL URL without the hub's tables is no hub either): a token stored there
 * is unknown to the running hub and a revocation goes to the wrong register. So: the store named by
 * the config (file key `databaseUrl`, env DATABASE_URL overrides it, else DATADIR/hub.sqlite) must
 * exist and hold the hub's tables, else ERR_HUB_STORE_NOT_FOUND naming the store and the fix.
 */
import { existsSync } from 'node:fs';
import type { Knex } from 'knex';
import { connect, isPostgresUrl } from '../audit/knex-connect.js';
import { assertNotNewer, migrationState, storeLabel } from '../audit/migration-plan.js';
import { probeStore } from '../audit/start-checks.js';
import type { HubConfig } from './config.js';
import { hubError } from './errors.js';
import { HUB_SCHEMA, migrateHub } from './migrations.js';

function notFound(config: HubConfig, what: string): never {
  const fix = config.databaseUrl
    ? 'check "databaseUrl" in the config file (or env DATABASE_URL, which overrides it) and start the hub once with `credit hub start --config FILE`'
    : 'if the hub runs on PostgreSQL, put its URL in the config file as "databaseUrl" (or export DATABASE_URL); otherwise start the hub once with `credit hub start --config FILE`';
  throw hubError('ERR_HUB_STORE_NOT_FOUND', `${what}: admin commands never create a hub store; ${fix}`, { store: storeLabel(config.databaseTarget) });
}

/** Opens the hub's existing store (migrated to this version); the caller destroys it. */
export async function openExistingHubStore(config: HubConfig): Promise<Knex> {
  const target = config.databaseTarget;
  if (!isPostgresUrl(target) && !existsSync(target)) notFound(config, `no hub store at ${target}`);
  const db = await connect(target);
  try {
    await probeStore(db, target);
    if (!(await db.schema.hasTable('hub_nodes')) || !(await db.schema.hasTable('hub_certs'))) notFound(config, `${storeLabel(target)} holds no hub tables`);
    assertNotNewer(await migrationState(db, HUB_SCHEMA), storeLabel(target));
    await migrateHub(db);
    return db;
  } catch (e) {
    await db.destroy();
    throw e;
  }
}
