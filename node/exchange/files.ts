/**
 * The exchange directory DATADIR/exchange/: the node's key (0600) and certificate, the CA and hub
 * certificates, the hub's last CRL (crl.pem) and, on an SM2 enrolment, its last SM2 CRL
 * (sm2-crl.pem), and enrolment.json (grade, serial, validity). Written by `credit node init` and by
 * renewal, each as one install set (install-set.ts: every new file as NAME.ID.new, then the commit
 * marker install.json, then the renames), so a crash at any point leaves every old file or every
 * new one — the TLS pair, the SM2 pair, enrolment.json and the hub certificate together.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '../../certs/safe-files.js';
import { certInfo } from '../../certs/pki-crypto.js';
import { certFromPem, keyMatchesCert } from '../../protocol/crypto.js';
import { serviceError } from '../../protocol/service-errors.js';
import { installPending, installSet, readConsistent, type StagedFile } from './install-set.js';

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
 * Plain NAME.new files come only from versions before install sets (install-set.ts stages as
 * NAME.ID.new): their two-phase pair install wrote node.key.new + node.pem.new, then renamed the key,
 * then the certificate. A complete pair is installed, a certificate whose key was already renamed
 * too, as those versions did at load; a half-written pair is dropped.
 */
function legacyRollForward(p: ExchangePaths): void {
  legacyPair(p.key, p.cert);
  legacyPair(p.sm2Key, p.sm2Cert);
}

function legacyPair(key: string, cert: string): void {
  const keyNew = `${key}.new`;
  const certNew = `${cert}.new`;
  if (!existsSync(certNew)) {
    if (existsSync(keyNew)) rmSync(keyNew, { force: true });
    return;
  }
  const fits = (k: string) => {
    try {
      return keyMatchesCert(readFileSync(k, 'utf8'), certFromPem(readFileSync(certNew, 'utf8')));
    } catch {
      return false;
    }
  };
  if (fits(existsSync(keyNew) ? keyNew : key)) {
    if (existsSync(keyNew)) renameSync(keyNew, key);
    renameSync(certNew, cert);
  } else {
    rmSync(certNew, { force: true });
    rmSync(keyNew, { force: true });
  }
}

/** Reads and checks the exchange directory (ERR_CONFIG_INVALID, key `hub`, when it is missing or inconsistent). */
export function loadExchangeMaterial(dataDir: string, nodeId: string): ExchangeMaterial {
  const p = exchangePaths(dataDir);
  if (!existsSync(p.cert) && !installPending(p.dir)) notEnrolled(`${p.cert} is missing`);
  if (!installPending(p.dir)) legacyRollForward(p); // a committed set is finished by readConsistent
  return readConsistent(p.dir, () => readMaterial(p, nodeId));
}

function readMaterial(p: ExchangePaths, nodeId: string): ExchangeMaterial {
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

const SM2_FILES = (p: ExchangePaths) => [p.sm2Key, p.sm2Cert, `${p.sm2Key}.prev`, p.sm2Ca, p.sm2Hub, p.sm2Crl].map((f) => basename(f));

/** The SM2 identity's files (enrolment and renewal); a renewal keeps the key it replaces as node-sm2.key.prev. */
function sm2Files(p: ExchangePaths, s: Sm2Material): StagedFile[] {
  return [
    { name: basename(p.sm2Ca), data: s.caCertPem, mode: 0o644 },
    { name: basename(p.sm2Hub), data: s.hubCertPem, mode: 0o644 },
    // renewal: the key it replaces, so answers sealed to the previous SM2 certificate still open
    ...(s.previousKeyPem !== undefined ? [{ name: `${basename(p.sm2Key)}.prev`, data: s.previousKeyPem, mode: 0o600 }] : []),
    { name: basename(p.sm2Key), data: s.keyPem, mode: 0o600 },
    { name: basename(p.sm2Cert), data: s.certPem, mode: 0o644 },
  ];
}

/**
 * Writes a fresh enrolment as one install set (refuses to replace one: the caller checks
 * `isEnrolled` first). What an earlier, interrupted enrolment left is removed with it: a previous
 * key, CRLs, and an SM2 identity when this enrolment has none.
 */
export function writeEnrolment(dataDir: string, m: ExchangeMaterial): void {
  const p = exchangePaths(dataDir);
  mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  const files: StagedFile[] = [
    { name: basename(p.ca), data: m.caCertPem, mode: 0o644 },
    { name: basename(p.hub), data: m.hubCertPem, mode: 0o644 },
    { name: basename(p.enrolment), data: JSON.stringify(m.enrolment, null, 2) + '\n', mode: 0o644 },
    ...(m.sm2 !== undefined ? sm2Files(p, m.sm2) : []),
    { name: basename(p.key), data: m.keyPem, mode: 0o600 },
    { name: basename(p.cert), data: m.certPem, mode: 0o644 },
  ];
  const staged = new Set(files.map((f) => f.name));
  const remove = [`${basename(p.key)}.prev`, basename(p.crl), ...SM2_FILES(p)].filter((f) => !staged.has(f));
  installSet(p.dir, files, remove);
}

/** Installs an SM2 identity beside an enrolled TLS one (one install set). */
export function writeSm2(dataDir: string, s: Sm2Material): void {
  const p = exchangePaths(dataDir);
  installSet(p.dir, sm2Files(p, s));
}

export function isEnrolled(dataDir: string): boolean {
  const p = exchangePaths(dataDir);
  return existsSync(p.cert) || installPending(p.dir);
}

/**
 * Installs a renewal as one install set: the new key and certificate, the key they replace
 * (node.key.prev), the updated enrolment, a new hub certificate when the key type changed, and the
 * renewed SM2 identity of a node on the national suite.
 */
export function writeRenewal(dataDir: string, m: Renewed): void {
  installSet(exchangePaths(dataDir).dir, renewalFiles(dataDir, m));
}

export type Renewed = Pick<ExchangeMaterial, 'keyPem' | 'certPem' | 'enrolment'> & { previousKeyPem: string; hubCertPem?: string; sm2?: Sm2Material };

/** The install set of a renewal (in the order staged and renamed). */
export function renewalFiles(dataDir: string, m: Renewed): StagedFile[] {
  const p = exchangePaths(dataDir);
  return [
    { name: `${basename(p.key)}.prev`, data: m.previousKeyPem, mode: 0o600 },
    ...(m.sm2 !== undefined ? sm2Files(p, m.sm2) : []),
    ...(m.hubCertPem !== undefined ? [{ name: basename(p.hub), data: m.hubCertPem, mode: 0o644 }] : []),
    { name: basename(p.enrolment), data: JSON.stringify(m.enrolment, null, 2) + '\n', mode: 0o644 },
    { name: basename(p.key), data: m.keyPem, mode: 0o600 },
    { name: basename(p.cert), data: m.certPem, mode: 0o644 },
  ];
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
