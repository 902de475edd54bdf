/**
 * The provincial SM2 root, kept in the CA directory beside the RSA root (which still issues the
 * mutual-TLS certificates Node's `tls` can load): `sm2-ca.pem`, `sm2-ca.key` (0600) and
 * `sm2-state.json` (issued serials, revocations, the CRL number). A node's SM2
 * signing/encryption certificate (CN = node id) is issued for a public key the node generated
 * itself (`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:SM2`), from its SM2 PKCS#10
 * request (proof of possession) or, failing that, from a bare public key the operator received
 * over an authenticated channel.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { children, readOid, readOne } from '../protocol/der.js';
import { sm2KeyFromPem, sm2PointFromSpki, sm2Spki } from '../protocol/sm-crypto.js';
import { certError } from './errors.js';
import { HUB_NODE_ID } from './issue.js';
import { writeFileAtomic, writeNewFile } from './safe-files.js';
import { buildSm2Crl, createSm2Ca, issueSm2Certificate, parseSm2Csr, type Sm2Issuer } from './sm2-x509.js';

export const SM2_CA_FILES = { cert: 'sm2-ca.pem', key: 'sm2-ca.key', state: 'sm2-state.json' } as const;
export const DEFAULT_SM2_CA_NAME = 'Hunan Provincial Public Credit SM2 CA';

interface Sm2State {
  crlNumber: number;
  issued: { serial: string; nodeId: string; notAfter: string; revokedAt?: string }[];
}

function readState(dir: string): Sm2State {
  try {
    return JSON.parse(readFileSync(join(dir, SM2_CA_FILES.state), 'utf8')) as Sm2State;
  } catch {
    throw certError('ERR_CA_STATE_INVALID', `${join(dir, SM2_CA_FILES.state)} cannot be read`, { dir });
  }
}

function writeState(dir: string, s: Sm2State): void {
  writeFileAtomic(join(dir, SM2_CA_FILES.state), `${JSON.stringify(s, null, 2)}\n`, 0o600);
}

/** Creates the SM2 root in `dir` (made 0700 if new); ERR_CA_EXISTS when one is there. */
export function initSm2CaDir(dir: string, o: { cn?: string; days?: number; now?: Date } = {}): { certPem: string; certPath: string; keyPath: string } {
  for (const f of Object.values(SM2_CA_FILES)) {
    if (existsSync(join(dir, f))) throw certError('ERR_CA_EXISTS', `${join(dir, f)} exists; refusing to overwrite the SM2 CA`, { dir });
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const { certPem, keyPem } = createSm2Ca({ cn: o.cn ?? DEFAULT_SM2_CA_NAME, days: o.days ?? 3650, now: o.now });
  const keyPath = join(dir, SM2_CA_FILES.key);
  const certPath = join(dir, SM2_CA_FILES.cert);
  writeNewFile(keyPath, keyPem, 0o600);
  writeNewFile(join(dir, SM2_CA_FILES.state), `${JSON.stringify({ crlNumber: 0, issued: [] }, null, 2)}\n`, 0o600);
  writeNewFile(certPath, certPem, 0o644);
  return { certPem, certPath, keyPath };
}

function openSm2Ca(dir: string): Sm2Issuer {
  let certPem: string;
  let keyPem: string;
  try {
    certPem = readFileSync(join(dir, SM2_CA_FILES.cert), 'utf8');
    keyPem = readFileSync(join(dir, SM2_CA_FILES.key), 'utf8');
  } catch {
    throw certError('ERR_CA_NOT_FOUND', `no SM2 CA in ${dir} (run \`credit ca init --algorithm sm2 --dir ${dir}\`)`, { dir });
  }
  return { cn: cnOf(certPem), key: sm2KeyFromPem(keyPem) };
}

/** The SM2 root of `dir` (certificate and issuing key), or undefined when the directory has none. */
export function readSm2Ca(dir: string): { certPem: string; issuer: Sm2Issuer } | undefined {
  if (!existsSync(join(dir, SM2_CA_FILES.cert))) return undefined;
  const issuer = openSm2Ca(dir);
  return { certPem: readFileSync(join(dir, SM2_CA_FILES.cert), 'utf8'), issuer };
}

/** The subject CN of a certificate (the issuer name of what the root signs must repeat it byte for byte). */
function cnOf(certPem: string): string {
  const der = Buffer.from(certPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const tbs = children(children(readOne(der))[0]!);
  for (const rdn of children(tbs[5]!)) {
    for (const atv of children(rdn)) {
      const [type, value] = children(atv);
      if (readOid(type!) === '2.5.4.3') return value!.value.toString('utf8');
    }
  }
  throw certError('ERR_CA_STATE_INVALID', 'the SM2 CA certificate has no CN');
}

/** Issues a node's SM2 certificate for `publicKeyPem` (SPKI PEM of an SM2 key); 430000 (the hub) only with `hub: true`. */
export function issueSm2NodeCert(dir: string, nodeId: string, publicKeyPem: string, o: { days?: number; now?: Date; hub?: boolean } = {}): { certPem: string; serial: string; notAfter: Date } {
  if (!/^\d{6}$/.test(nodeId)) throw certError('ERR_CSR_SUBJECT_INVALID', `node id ${nodeId} is not a 6-digit division code`, { nodeId });
  if (nodeId === HUB_NODE_ID && o.hub !== true) throw certError('ERR_CSR_SUBJECT_INVALID', `${HUB_NODE_ID} is the hub: its certificate is issued only with --hub`, { nodeId });
  const point = sm2PointFromSpki(Buffer.from(publicKeyPem.replace(/-----[^-]+-----|\s/g, ''), 'base64'));
  if (point === undefined) throw certError('ERR_CSR_KEY_UNSUPPORTED', 'the public key is not an SM2 key (SPKI PEM of curve 1.2.156.10197.1.301)');
  const issuer = openSm2Ca(dir);
  const now = o.now ?? new Date();
  const days = o.days ?? 365;
  const { certPem, serialHex } = issueSm2Certificate({ cn: nodeId, publicKey: point, issuer, days, now });
  const notAfter = new Date(now.getTime() + days * 86_400_000);
  const state = readState(dir);
  state.issued.push({ serial: serialHex, nodeId, notAfter: notAfter.toISOString() });
  writeState(dir, state);
  return { certPem, serial: serialHex, notAfter };
}

/**
 * Issues for an SM2 PKCS#10 request whose CN must be `nodeId`, the node the operator means
 * (ERR_CSR_SUBJECT_INVALID otherwise: a request does not choose whom it is issued for); 430000
 * (the hub) only with `hub: true`. Returns the CN with the certificate.
 */
export function issueSm2NodeCertForCsr(dir: string, csrPem: string, o: { nodeId: string; days?: number; now?: Date; hub?: boolean }): { certPem: string; serial: string; notAfter: Date; cn: string } {
  const { cn, publicKey } = parseSm2Csr(csrPem);
  if (cn !== o.nodeId) throw certError('ERR_CSR_SUBJECT_INVALID', `the request is for CN ${cn}, not for node ${o.nodeId} (--node)`, { cn, nodeId: o.nodeId });
  return { ...issueSm2NodeCert(dir, cn, sm2SpkiPem(publicKey), o), cn };
}

function sm2SpkiPem(point: string): string {
  return `-----BEGIN PUBLIC KEY-----\n${sm2Spki(point).toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END PUBLIC KEY-----\n`;
}

/** Marks an SM2 certificate revoked (by serial); ERR_CERT_NOT_FOUND when this CA did not issue it. */
export function revokeSm2(dir: string, serial: string, now = new Date()): void {
  const state = readState(dir);
  const e = state.issued.find((i) => i.serial === serial.toUpperCase().replace(/^0+/, '') || i.serial === serial.toUpperCase());
  if (e === undefined) throw certError('ERR_CERT_NOT_FOUND', `no SM2 certificate ${serial} was issued by this CA`, { serial });
  e.revokedAt ??= now.toISOString();
  writeState(dir, state);
}

/**
 * The SM2 CRL (PEM). `opensslCompatible` signs it with an empty ID, the only one OpenSSL 3.0 checks
 * CRL signatures with; otherwise with the standard ID 1234567812345678 (GM/T 0015).
 */
export function sm2CrlOf(dir: string, o: { now?: Date; opensslCompatible?: boolean } = {}): string {
  const issuer = openSm2Ca(dir);
  const state = readState(dir);
  state.crlNumber += 1;
  writeState(dir, state);
  const entries = state.issued.filter((i) => i.revokedAt !== undefined).map((i) => ({ serialHex: i.serial, revokedAt: new Date(i.revokedAt!) }));
  return buildSm2Crl(issuer, entries, { number: BigInt(state.crlNumber), now: o.now, ...(o.opensslCompatible ? { userId: '' } : {}) });
}
