/**
 * The benchmarks' PKI, made by certs/ exactly as the provincial CA makes it: an in-memory CA, and
 * a city node (430100) and the hub (430000) that each generate their key and CSR with
 * createNodeKeys and get their certificate from issueCertificate. Made once per bench process
 * (RSA key generation takes a moment) and shared by every scenario; never written to the repo.
 */
import { createMemoryCa, createNodeKeys, HUB_NODE_ID, issueCertificate } from '../../certs/index.js';

export interface BenchIdentity {
  nodeId: string;
  certPem: string;
  keyPem: string;
}

export interface BenchPki {
  caCertPem: string;
  /** City node 430100 (长沙市). */
  node: BenchIdentity;
  /** The hub, 430000. */
  hub: BenchIdentity;
}

let made: Promise<BenchPki> | undefined;

async function enrol(ca: ReturnType<typeof createMemoryCa>, nodeId: string): Promise<BenchIdentity> {
  const { keyPem, csrPem } = createNodeKeys(nodeId);
  const { certPem } = await issueCertificate(ca, csrPem, { days: 2 });
  return { nodeId, certPem, keyPem };
}

export function benchPki(): Promise<BenchPki> {
  made ??= (async () => {
    const ca = createMemoryCa({ cn: 'Bench Provincial Credit CA' });
    return { caCertPem: ca.certPem, node: await enrol(ca, '430100'), hub: await enrol(ca, HUB_NODE_ID) };
  })();
  return made;
}
