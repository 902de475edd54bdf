/**
 * The hub's own key and certificate (CN 430000) in DATADIR/hub.key (0600) + hub.pem. Issued from
 * the CA (and recorded in its register) when missing, not from this CA, not active in the register,
 * missing a configured host, or with less than a third of its lifetime left.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HUB_NODE_ID, issueCertificate, sanHosts } from '../certs/issue.js';
import { certInfo, createCsr, generateRsaKeyPair, signedBy } from '../certs/pki-crypto.js';
import { writeFileAtomic } from '../certs/safe-files.js';
import { certFromPem, keyMatchesCert } from '../protocol/crypto.js';
import type { HubCa } from './ca-store.js';
import { certSanNames } from './crypto.js';
import type { HubIdentity } from './context.js';

export const HUB_FILES = { key: 'hub.key', cert: 'hub.pem' } as const;

/** Why the current files cannot be used, or null when they can. */
async function problem(ca: HubCa, keyPem: string, certPem: string, hosts: readonly string[], now: Date): Promise<string | null> {
  let info;
  try {
    info = certInfo(certPem);
    if (!keyMatchesCert(keyPem, certFromPem(certPem))) return 'the key does not belong to the certificate';
  } catch {
    return 'the files cannot be read';
  }
  if (info.cn !== HUB_NODE_ID) return `the certificate is for ${String(info.cn)}`;
  if (!signedBy(certPem, ca.certPem)) return 'the certificate is not from this CA';
  const reg = await ca.certs.findIssued(info.serial);
  if (reg?.status !== 'active') return 'the certificate is not active in the register';
  const life = info.notAfter.getTime() - info.notBefore.getTime();
  if (info.notAfter.getTime() - now.getTime() < life / 3) return 'less than a third of its lifetime is left';
  const names = certSanNames(certPem);
  const missing = sanHosts(hosts).filter((h) => !names.has(h.toLowerCase()));
  if (missing.length > 0) return `it does not name ${missing.join(', ')}`;
  return null;
}

/** The hub's key and certificate, (re)issued when needed. `reason` says why a new one was made. */
export async function ensureHubIdentity(ca: HubCa, o: { dataDir: string; hosts: readonly string[]; days: number; now: Date }): Promise<HubIdentity & { issued: string | null }> {
  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  const keyPath = join(o.dataDir, HUB_FILES.key);
  const certPath = join(o.dataDir, HUB_FILES.cert);
  if (existsSync(keyPath) && existsSync(certPath)) {
    const keyPem = readFileSync(keyPath, 'utf8');
    const certPem = readFileSync(certPath, 'utf8');
    const why = await problem(ca, keyPem, certPem, o.hosts, o.now);
    if (why === null) return { keyPem, certPem, issued: null };
    return { ...(await issueHub(ca, keyPath, certPath, o)), issued: why };
  }
  return { ...(await issueHub(ca, keyPath, certPath, o)), issued: 'no hub certificate yet' };
}

async function issueHub(ca: HubCa, keyPath: string, certPath: string, o: { hosts: readonly string[]; days: number; now: Date }): Promise<HubIdentity> {
  const kp = generateRsaKeyPair();
  const cert = await issueCertificate(ca, createCsr(HUB_NODE_ID, kp), { days: o.days, hosts: o.hosts, now: o.now });
  writeFileAtomic(keyPath, kp.privateKeyPem, 0o600);
  writeFileAtomic(certPath, cert.certPem, 0o644);
  return { keyPem: kp.privateKeyPem, certPem: cert.certPem };
}
