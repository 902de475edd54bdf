/**
 * A real hub (SQLite, its own CA directory, HTTPS on port 0) and real node apps enrolled with it, for
 * tests that need both ends with their own settings: the hub's config keys in `hubConfig`, each
 * node's `hub.` keys when it is started. Everything is closed and removed at teardown.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { initCaDir } from '../../certs/ca-dir.js';
import { buildHubConfig, makeToken, startHub, type RunningHub } from '../../hub/index.js';
import type { HubConfig as NodeHubConfig } from '../../node/config.js';
import { enrollNode } from '../../node/exchange/enroll.js';
import { sqliteEngine } from '../helpers/db.js';
import { nodeApp, type NodeApp } from './exchange-fixture.js';

export interface HubAndNodes {
  hub: RunningHub;
  hubDb: Knex;
  /** Enrols `nodeId` (grade 3) and starts its app with these `hub.` keys (the url is the hub's). */
  node(nodeId: string, hubKeys: Partial<NodeHubConfig>): Promise<NodeApp>;
}

export async function hubAndNodes(t: { teardown(fn: () => unknown): void }, name: string, hubConfig: Record<string, unknown>): Promise<HubAndNodes> {
  const dir = mkdtempSync(join(tmpdir(), `hub-nodes-${name}-`));
  const caDir = join(dir, 'ca');
  const { certPem: caCertPem } = await initCaDir(caDir, { cn: `Test Provincial Credit CA (${name})` });
  const store = await sqliteEngine.open();
  const config = buildHubConfig({ dataDir: join(dir, 'hub'), caDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent', ...hubConfig }, {});
  const hub = await startHub({ config, db: store.db });
  const nodes: NodeApp[] = [];
  t.teardown(async () => {
    for (const n of nodes.reverse()) await n.close();
    await hub.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    hub, hubDb: store.db,
    async node(nodeId, hubKeys) {
      const dataDir = join(dir, `node-${nodeId}`, 'data');
      const token = (await makeToken(store.db, hub.app.hubCtx.ca, { nodeId, grade: 3, ttlMs: 3_600_000 })).token;
      await enrollNode({ dataDir, nodeId, hubUrl: hub.url, token, caCertPem });
      const n = await nodeApp(dataDir, { url: hub.url, ...hubKeys }, nodeId);
      nodes.push(n);
      return n;
    },
  };
}
