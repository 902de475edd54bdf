/**
 * The demo's auditor step for the audit logs, with the strict check (issue 16): one more witness
 * round first — the hub signs a checkpoint of its own log now (`credit audit checkpoint`, as its
 * timer would) and the running nodes cosign it on their next round — then every log is exported up
 * to the last checkpoint its witness cosigned (`credit audit export --witnessed`: the hub's for a
 * node's log, a node's for the hub's) and verified with `credit audit verify --node ID`, without
 * --allow-unwitnessed. Entries written after that checkpoint wait for the next witness round.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from './federation.js';
import { credit } from './processes.js';

export interface AuditStore {
  id: string;
  db: string;
}

export interface AuditStepOptions {
  out: string;
  caCertFile: string;
  hub: AuditStore & { key: string; cert: string };
  nodes: AuditStore[];
  step: (text: string) => void;
}

/** Signs a hub checkpoint now and waits until a node has cosigned it (or a later one). */
async function witnessRound(o: AuditStepOptions): Promise<number> {
  const cp = await credit(['audit', 'checkpoint', '--db', o.hub.db, '--key', o.hub.key, '--cert', o.hub.cert]);
  if (cp.code !== 0) throw new Error(`signing a hub checkpoint failed: ${cp.stderr}`);
  const size = Number(/tree size (\d+)/.exec(cp.stdout)?.[1] ?? 0);
  await waitFor("a node's cosignature of the hub's checkpoint", async () => {
    const r = await credit(['audit', 'checkpoints', '--db', o.hub.db, '--json']);
    const rows = r.code === 0 ? (JSON.parse(r.stdout) as { treeSize: number; cosignatures: string[] }[]) : [];
    return rows.some((c) => c.treeSize >= size && c.cosignatures.length > 0) ? true : undefined;
  });
  return size;
}

/** Exports and strictly verifies every log; resolves with each one's verification line. */
export async function exportAndVerifyAudit(o: AuditStepOptions): Promise<Record<string, string>> {
  const dir = join(o.out, 'audit');
  mkdirSync(dir, { recursive: true });
  const size = await witnessRound(o);
  o.step(`hub signed a checkpoint of its log at tree size ${size}; the nodes cosigned it on their next witness round`);
  const verified: Record<string, string> = {};
  for (const { id, db } of [o.hub, ...o.nodes]) {
    const file = join(dir, `${id}.ndjson`);
    const ex = await credit(['audit', 'export', '--db', db, '--out', file, '--witnessed']);
    if (ex.code !== 0) throw new Error(`audit export of ${id} failed: ${ex.stderr}`);
    const v = await credit(['audit', 'verify', file, '--ca', o.caCertFile, '--node', id]);
    if (v.code !== 0) throw new Error(`audit log of ${id} does not verify strictly: ${v.stdout}${v.stderr}`);
    const to = /\(seq \d+\.\.(\d+)\)/.exec(v.stdout)?.[1] ?? '?';
    const later = ex.stderr.includes('not witnessed yet') ? '; later entries wait for the next witness round' : '';
    verified[id] = `${v.stdout.trim().split('\n').pop()!}; witnessed by ${id === '430000' ? 'the nodes' : 'the hub'} up to seq ${to}${later}`;
    o.step(`audit log ${id} exported to ${file} up to its last cosigned checkpoint and verified strictly (no --allow-unwitnessed): ${verified[id]}`);
  }
  return verified;
}
