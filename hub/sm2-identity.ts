/**
 * National cryptography at the hub (issue 21): the hub's own SM2 key and certificate (CN 430000,
 * DATADIR/hub-sm2.key 0600 + hub-sm2.pem) and the nodes' SM2 certificates, issued by the provincial
 * SM2 root (caDir/sm2-ca.pem, `credit ca init --algorithm sm2`) into the same register as the TLS
 * certificates (hub_certs), so `credit hub revoke`, the per-request register check and the CRL
 * cover them. TLS itself stays RSA (Node's tls cannot load SM2): docs/protocol.md "TLCP gateway".
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { certError } from '../certs/errors.js';
import { HUB_NODE_ID } from '../certs/issue.js';
import { normaliseSerial } from '../certs/pki-crypto.js';
import { writeFileAtomic } from '../certs/safe-files.js';
import { issueSm2Certificate, parseSm2Csr } from '../certs/sm2-x509.js';
import { certFromPem, keyMatchesCert } from '../protocol/crypto.js';
import { sm2GenerateKeyPem } from '../protocol/sm-crypto.js';
import type { Sm2Credentials } from '../protocol/exchange.js';
import type { HubCa } from './ca-store.js';

export const HUB_SM2_FILES = { key: 'hub-sm2.key', cert: 'hub-sm2.pem' } as const;

type Sm2Ca = NonNullable<HubCa['sm2']>;

async function issueInto(ca: HubCa, sm2: Sm2Ca, o: { nodeId: string; publicKey: string; days: number; now: Date; notAfter?: Date; grade?: number }): Promise<{ certPem: string; serial: string; notAfter: Date }> {
  const notAfter = o.notAfter ?? new Date(o.now.getTime() + o.days * 86_400_000);
  const days = (notAfter.getTime() - o.now.getTime()) / 86_400_000;
  const { certPem, serialHex } = issueSm2Certificate({ cn: o.nodeId, publicKey: o.publicKey, issuer: sm2.issuer, days, now: o.now });
  const cert = certFromPem(certPem);
  await ca.certs.addIssued({
    nodeId: o.nodeId, serial: normaliseSerial(serialHex), notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString(),
    status: 'active', issuedAt: o.now.toISOString(), ...(o.grade === undefined ? {} : { grade: o.grade }),
  });
  return { certPem, serial: normaliseSerial(serialHex), notAfter: cert.notAfter };
}

/** A node's SM2 request, checked (SM2 key, self-signature, one 6-digit CN) before anything is spent; ERR_CSR_KEY_UNSUPPORTED when this hub has no SM2 root. */
export function readSm2Request(ca: HubCa, hubSm2: { certPem: string } | undefined, csrPem: string): { cn: string; publicKey: string } {
  if (ca.sm2 === undefined || hubSm2 === undefined) {
    throw certError('ERR_CSR_KEY_UNSUPPORTED', 'this hub has no SM2 CA (`credit ca init --algorithm sm2` in its CA directory): it cannot issue SM2 certificates', { sm2: false });
  }
  return parseSm2Csr(csrPem);
}

/**
 * A node's SM2 certificate for its checked SM2 request, whose CN must be `nodeId`
 * (ERR_CSR_SUBJECT_INVALID: a request does not choose whom it is issued for).
 */
export async function issueNodeSm2(ca: HubCa, hubSm2: { certPem: string } | undefined, o: { nodeId: string; request: { cn: string; publicKey: string }; days: number; now: Date; notAfter?: Date; grade?: number }): Promise<Sm2Credentials> {
  const sm2 = ca.sm2;
  if (sm2 === undefined || hubSm2 === undefined) throw certError('ERR_CSR_KEY_UNSUPPORTED', 'this hub has no SM2 CA: it cannot issue SM2 certificates', { sm2: false });
  const { cn, publicKey } = o.request;
  if (cn !== o.nodeId) throw certError('ERR_CSR_SUBJECT_INVALID', `the SM2 request is for CN ${cn}, this enrolment is for node ${o.nodeId}`, { cn, nodeId: o.nodeId });
  const issued = await issueInto(ca, sm2, { ...o, publicKey });
  return { certPem: issued.certPem, serial: issued.serial, notAfter: issued.notAfter.toISOString(), caCertPem: sm2.certPem, hubCertPem: hubSm2.certPem };
}

/** The hub's SM2 key and certificate, (re)issued when missing, not from this root, not active in the register, or in the last third of its life. Undefined without an SM2 root. */
export async function ensureHubSm2Identity(ca: HubCa, o: { dataDir: string; days: number; now: Date }): Promise<{ keyPem: string; certPem: string; caCertPem: string; issued: string | null } | undefined> {
  const sm2 = ca.sm2;
  if (sm2 === undefined) return undefined;
  const keyPath = join(o.dataDir, HUB_SM2_FILES.key);
  const certPath = join(o.dataDir, HUB_SM2_FILES.cert);
  let why = 'no hub SM2 certificate yet';
  if (existsSync(keyPath) && existsSync(certPath)) {
    const keyPem = readFileSync(keyPath, 'utf8');
    const certPem = readFileSync(certPath, 'utf8');
    why = (await problem(ca, sm2, keyPem, certPem, o.now)) ?? '';
    if (why === '') return { keyPem, certPem, caCertPem: sm2.certPem, issued: null };
  }
  const { privateKeyPem, publicKey } = sm2GenerateKeyPem();
  const { certPem } = await issueInto(ca, sm2, { nodeId: HUB_NODE_ID, publicKey, days: o.days, now: o.now });
  writeFileAtomic(keyPath, privateKeyPem, 0o600);
  writeFileAtomic(certPath, certPem, 0o644);
  return { keyPem: privateKeyPem, certPem, caCertPem: sm2.certPem, issued: why };
}

async function problem(ca: HubCa, sm2: Sm2Ca, keyPem: string, certPem: string, now: Date): Promise<string | null> {
  try {
    const cert = certFromPem(certPem);
    if (!keyMatchesCert(keyPem, cert)) return 'the SM2 key does not belong to the certificate';
    if (cert.cn !== HUB_NODE_ID) return `the SM2 certificate is for ${String(cert.cn)}`;
    if (!cert.issuedBy(certFromPem(sm2.certPem))) return 'the SM2 certificate is not from this SM2 root';
    const reg = await ca.certs.findIssued(cert.serial);
    if (reg?.status !== 'active') return 'the SM2 certificate is not active in the register';
    const life = cert.notAfter.getTime() - cert.notBefore.getTime();
    if (cert.notAfter.getTime() - now.getTime() < life / 3) return 'less than a third of its lifetime is left';
    return null;
  } catch {
    return 'the SM2 files cannot be read';
  }
}
