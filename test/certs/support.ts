/** Shared set-up for test/certs: temp dirs, the real openssl CLI, and a CA with one node. */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { createMemoryCa, createNodeKeys, issueCertificate, type Ca, type IssueOptions } from '../../certs/index.js';

export async function tempDir(t: Test, prefix = 'certs-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface OpensslResult {
  status: number | null;
  out: string;
}

/** Runs the real openssl CLI; stdout and stderr together in `out`. */
export function openssl(args: string[], input?: string): OpensslResult {
  const r = spawnSync('openssl', args, { encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
  if (r.error) throw r.error;
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

export async function writeAll(dir: string, files: Record<string, string>): Promise<Record<string, string>> {
  const paths: Record<string, string> = {};
  for (const [name, text] of Object.entries(files)) {
    paths[name] = join(dir, name);
    await writeFile(paths[name]!, text);
  }
  return paths;
}

export interface NodeIdentity {
  nodeId: string;
  keyPem: string;
  csrPem: string;
  certPem: string;
  serial: string;
}

/** A fresh key, CSR and certificate for `nodeId` from `ca`. */
export async function enrolled(ca: Ca, nodeId: string, opts: IssueOptions = {}): Promise<NodeIdentity> {
  const { keyPem, csrPem } = createNodeKeys(nodeId);
  const issued = await issueCertificate(ca, csrPem, opts);
  return { nodeId, keyPem, csrPem, certPem: issued.certPem, serial: issued.serial };
}

let shared: Ca | undefined;
/** One in-memory CA per test process (RSA key generation is the slow part). */
export function sharedCa(): Ca {
  shared ??= createMemoryCa({ cn: 'Test Provincial Credit CA' });
  return shared;
}

export { createMemoryCa };
