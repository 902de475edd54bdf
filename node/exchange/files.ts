/**
 * The exchange directory DATADIR/exchange/: the node's key (0600) and certificate, the CA and hub
 * certificates, the hub's last CRL (crl.pem) and, on an SM2 enrolment, its last SM2 CRL (sm2-crl.pem), and enrolment.json (grade, serial, validity). Written by `credit node init` and by
 * renewal; renewal writes the new pair as node.key.new + node.pem.new first, then renames them, so
 * a crash at any point leaves either the old pair or a complete new one (rolled forward at load);
 * the SM2 pair (node-sm2.key, node-sm2.pem) is installed the same way.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../certs/safe-files.js';
import { certInfo } from '../../certs/pki-crypto.js';
import { certFromPem, keyMatchesCert } from '../../protocol/crypto.js';
import { serviceError } from '../../protocol/service-errors.js';

export const EXCHANGE_DIR = 'exchange';

export interface ExchangePaths {
  dir: string;
  key: string;
  cert: string;
  ca: string;
  hub: string;
  enrolment: string;
  /** The hub's last CRL (fetched from GET /v1/crl, signature checked against ca.pem). */
  crl: string;
  /** The hub's last SM2 CRL (fetched from GET /v1/crl/sm2, signature checked against sm2-ca.pem). */
  sm2Crl: string;
  /** The SM2 side (national suite), when the node enrolled with an SM2 key: key (0600), certificate, SM2 root, hub's SM2 certificate. */
  sm2Key: string;
  sm2Cert: string;
  sm2Ca: string;
  sm2Hub: string;
}

export function exchangePaths(dataDir: string): ExchangePaths {
  const dir = join(dataDir, EXCHANGE_DIR);
  return {
    dir, key: join(dir, 'node.key'), cert: join(dir, 'node.pem'), ca: join(dir, 'ca.pem'), hub: join(dir, 'hub.pem'), enrolment: join(dir, 'enrolment.json'), crl: join(dir, 'crl.pem'), sm2Crl: join(dir, 'sm2-crl.pem'),
    sm2Key: join(dir, 'node-sm2.key'), sm2Cert: join(dir, 'node-sm2.pem'), sm2Ca: join(dir, 'sm2-ca.pem'), sm2Hub: join(dir, 'hub-sm2.pem'),
  };
}

/** What the hub told this node at enrolment (and at each renewal). */
export interface Enrolment {
  nodeId: string;
  /** Protection grade (等保 level) registered at the hub: which classes this node may send. */
  grade: number;
  hubUrl: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  enrolledAt: string;
  renewedAt?: string;
}

/** Everything the exchange needs to speak to the hub. */
export interface ExchangeMaterial {
  nodeId: string;
  keyPem: string;
  certPem: string;
  caCertPem: string;
  hubCertPem: string;
  enrolment: Enrolment;
  /** The key before the last renewal (node.key.prev): opens answers sealed to the previous certificate. */
  previousKeyPem?: string;
  /** The last CRL fetched from the hub (crl.pem), when there is one. */
  crlPem?: string;
  /** The node's SM2 identity (suite CF1-SM2-SM4GCM-SM3), when it enrolled with one. */
  sm2?: Sm2Material;
  /** The last SM2 CRL fetched from the hub (sm2-crl.pem), when there is one (only with `sm2`). */
  sm2CrlPem?: string;
}

/** The SM2 key and certificate beside the TLS ones (same node id, same register at the hub). */
export interface Sm2Material {
  keyPem: string;
  certPem: string;
  caCertPem: string;
  hubCertPem: string;
  /** The SM2 key before the last renewal (node-sm2.key.prev): opens answers sealed to the previous SM2 certificate. */
  previousKeyPem?: string;
}

function notEnrolled(message: string): never {
  throw serviceError('ERR_CONFIG_INVALID', `config key hub: ${message}; enrol first with \`credit node init --config FILE --hub URL --token T --ca ca.pem\``, { key: 'hub' });
}

/**
 * Finishes the install of one key pair a crash interrupted: a complete .new pair is renamed into
 * place (key first); a half-written one is dropped. A .new certificate is installed only beside the
 * key it is for (the .new key, else the current one): when another process loading the directory
 * dropped a .new key that was still being written, the certificate that follows is dropped too
 * instead of landing beside the wrong key. True when a .new certificate was installed.
 */
function rollForwardPair(key: string, cert: string): boolean {
  const keyNew = `${key}.new`;
  const certNew = `${cert}.new`;
  if (existsSync(certNew)) {
    let fits = false;
    try {
      fits = keyMatchesCert(readFileSync(existsSync(keyNew) ? keyNew : key, 'utf8'), certFromPem(readFileSync(certNew, 'utf8')));
    } catch {
      fits = false;
    }
    if (!fits) {
      rmSync(certNew, { force: true });
      rmSync(keyNew, { force: true });
      return false;
    }
    if (existsSync(keyNew)) renameSync(keyNew, key);
    renameSync(certNew, cert);
    return true;
  } else if (existsSync(keyNew)) {
    rmSync(keyNew, { force: true });
  }
  return false;
}

/** The writers' side: the pair just written as .new must now be in place, else the renewal fails (and is retried). */
function install(key: string, cert: string, what: string): void {
  if (!rollForwardPair(key, cert)) throw serviceError('ERR_CONFIG_INVALID', `${what}: the new key pair could not be installed (${key}.new was removed while it was written — another process loading the exchange directory?); the renewal is retried`, { key: 'hub' });
}

/** Finishes a renewal a crash interrupted, for the TLS pair and the SM2 pair alike. */
function rollForward(p: ExchangePaths): void {
  rollForwardPair(p.key, p.cert);
  rollForwardPair(p.sm2Key, p.sm2Cert);
}

/** Reads and checks the exchange directory (ERR_CONFIG_INVALID, key `hub`, when it is missing or inconsistent). */
export function loadExchangeMaterial(dataDir: string, nodeId: string): ExchangeMaterial {
  const p = exchangePaths(dataDir);
  if (!existsSync(p.cert) && !existsSync(`${p.cert}.new`)) notEnrolled(`${p.cert} is missing`);
  rollForward(p);
  const read = (f: string) => {
    try {
      return readFileSync(f, 'utf8');
    } catch (e) {
      return notEnrolled(`cannot read ${f}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  const m: ExchangeMaterial = {
    nodeId,
    keyPem: read(p.key),
    certPem: read(p.cert),
    caCertPem: read(p.ca),
    hubCertPem: read(p.hub),
    enrolment: JSON.parse(read(p.enrolment)) as Enrolment,
    ...(existsSync(`${p.key}.prev`) ? { previousKeyPem: readFileSync(`${p.key}.prev`, 'utf8') } : {}),
    ...(existsSync(p.crl) ? { crlPem: readFileSync(p.crl, 'utf8') } : {}),
    ...(existsSync(p.sm2Cert) ? { sm2: { keyPem: read(p.sm2Key), certPem: read(p.sm2Cert), caCertPem: read(p.sm2Ca), hubCertPem: read(p.sm2Hub), ...(existsSync(`${p.sm2Key}.prev`) ? { previousKeyPem: readFileSync(`${p.sm2Key}.prev`, 'utf8') } : {}) } } : {}),
    ...(existsSync(p.sm2Cert) && existsSync(p.sm2Crl) ? { sm2CrlPem: readFileSync(p.sm2Crl, 'utf8') } : {}),
  };
  if (m.sm2 !== undefined) {
    const c = certFromPem(m.sm2.certPem);
    if (c.cn !== nodeId || !keyMatchesCert(m.sm2.keyPem, c)) notEnrolled(`${p.sm2Cert} is not this node's, or ${p.sm2Key} does not belong to it`);
  }
  let cn: string | null;
  try {
    const cert = certFromPem(m.certPem);
    cn = cert.cn;
    if (!keyMatchesCert(m.keyPem, cert)) notEnrolled(`${p.key} does not belong to ${p.cert}`);
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_CONFIG_INVALID') throw e;
    return notEnrolled(`${p.cert} / ${p.key} cannot be read: ${(e as Error).message}`);
  }
  if (cn !== nodeId) notEnrolled(`${p.cert} is for node ${String(cn)}, this node is ${nodeId}`);
  if (!Number.isInteger(m.enrolment.grade) || m.enrolment.grade < 1 || m.enrolment.grade > 4) notEnrolled(`${p.enrolment} carries no grade 1–4`);
  return m;
}

/** Writes a fresh enrolment (refuses to replace one: the caller checks `isEnrolled` first). */
export function writeEnrolment(dataDir: string, m: ExchangeMaterial): void {
  const p = exchangePaths(dataDir);
  mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  writeFileAtomic(p.ca, m.caCertPem, 0o644);
  writeFileAtomic(p.hub, m.hubCertPem, 0o644);
  writeFileAtomic(p.enrolment, JSON.stringify(m.enrolment, null, 2) + '\n', 0o644);
  if (m.sm2 !== undefined) writeSm2(dataDir, m.sm2);
  writeFileAtomic(p.key, m.keyPem, 0o600);
  writeFileAtomic(p.cert, m.certPem, 0o644);
}

/** Writes the SM2 identity (enrolment and renewal): node-sm2.key.new + node-sm2.pem.new, then renamed, key first (rolled forward at load after a crash). */
export function writeSm2(dataDir: string, s: Sm2Material): void {
  const p = exchangePaths(dataDir);
  writeFileAtomic(p.sm2Ca, s.caCertPem, 0o644);
  writeFileAtomic(p.sm2Hub, s.hubCertPem, 0o644);
  // renewal: the key it replaces first, so answers sealed to the previous SM2 certificate still open
  if (s.previousKeyPem !== undefined) writeFileAtomic(`${p.sm2Key}.prev`, s.previousKeyPem, 0o600);
  // two-phase, as the TLS pair (writeRenewal): a crash leaves the old pair or a complete new one, never a new key beside the old certificate
  writeFileAtomic(`${p.sm2Key}.new`, s.keyPem, 0o600);
  writeFileAtomic(`${p.sm2Cert}.new`, s.certPem, 0o644);
  install(p.sm2Key, p.sm2Cert, 'SM2 identity');
}

export function isEnrolled(dataDir: string): boolean {
  const p = exchangePaths(dataDir);
  return existsSync(p.cert) || existsSync(`${p.cert}.new`);
}

/** Installs a renewed key and certificate (two-phase, see the file comment) and the updated enrolment. */
export function writeRenewal(dataDir: string, m: Pick<ExchangeMaterial, 'keyPem' | 'certPem' | 'enrolment'> & { previousKeyPem: string }): void {
  const p = exchangePaths(dataDir);
  writeFileAtomic(`${p.key}.prev`, m.previousKeyPem, 0o600);
  writeFileAtomic(`${p.key}.new`, m.keyPem, 0o600);
  writeFileAtomic(`${p.cert}.new`, m.certPem, 0o644);
  install(p.key, p.cert, 'renewal');
  writeFileAtomic(p.enrolment, JSON.stringify(m.enrolment, null, 2) + '\n', 0o644);
}

/** Replaces the stored hub certificate (the hub renewed its own). */
export function writeHubCert(dataDir: string, pem: string): void {
  writeFileAtomic(exchangePaths(dataDir).hub, pem, 0o644);
}

/** Replaces the stored hub SM2 certificate (the hub re-issued its own). */
export function writeHubSm2Cert(dataDir: string, pem: string): void {
  writeFileAtomic(exchangePaths(dataDir).sm2Hub, pem, 0o644);
}

/** Replaces the stored CRL (a newer one, already checked against the CA). */
export function writeCrl(dataDir: string, pem: string): void {
  writeFileAtomic(exchangePaths(dataDir).crl, pem, 0o644);
}

/** Replaces the stored SM2 CRL (a newer one, already checked against the SM2 root). */
export function writeSm2Crl(dataDir: string, pem: string): void {
  writeFileAtomic(exchangePaths(dataDir).sm2Crl, pem, 0o644);
}

/** Validity of a certificate, for renewal decisions. */
export function validity(certPem: string): { notBefore: Date; notAfter: Date; serial: string } {
  const i = certInfo(certPem);
  return { notBefore: i.notBefore, notAfter: i.notAfter, serial: i.serial };
}
