/**
 * The hub's own key and certificate (CN 430000): ONE identity for every hub process on the store.
 * The store holds it (hub_settings `hub_identity`: the certificate, and the key encrypted with
 * AES-256-GCM under a key derived from the CA private key every hub process already holds; see
 * hub/crypto.ts and README "Several hub processes"); DATADIR/hub.key (0600) + hub.pem are this
 * process's copy for the `credit hub …` commands. At start, in one transaction under the store's
 * identity lock (PostgreSQL advisory lock IDENTITY_LOCK_KEY), the stored identity is used when it
 * fits; else the DATADIR files when they fit (a hub from before issue 22) and they are stored; else
 * a new one is issued from the CA (and recorded in its register) and stored. "Fits": from this CA,
 * active in the register, naming every configured host, with at least a third of its lifetime left.
 * So processes starting at once issue one certificate, and all serve it.
 * The hub holds a second identity the same way (issue 23): an EC P-256 key and certificate
 * (hub_settings `hub_identity_ec`, DATADIR/hub-ec.key + hub-ec.pem) from the same RSA root, for the
 * suite CF1-ECDH-ES-A256KW-A256GCM-ES256: what EC nodes encrypt to and what signs the hub's answers
 * to them (hub/answer-keys.ts). TLS and audit checkpoints stay on the RSA identity.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { engineOf } from '../audit/knex-connect.js';
import { HUB_NODE_ID, issueCertificate, sanHosts } from '../certs/issue.js';
import { certInfo, createCsr, generateKeyPair, keyAlgorithmOf, signedBy, type NodeKeyAlgorithm } from '../certs/pki-crypto.js';
import { writeFileAtomic } from '../certs/safe-files.js';
import { certFromPem, keyMatchesCert } from '../protocol/crypto.js';
import { DbCertRegistry, type HubCa } from './ca-store.js';
import { certSanNames, unwrapHubKey, wrapHubKey } from './crypto.js';
import type { HubIdentity } from './context.js';

/** Key of the PostgreSQL advisory lock held while the hub identity is read or issued. */
export const IDENTITY_LOCK_KEY = 430_000_004;
const SETTINGS: Record<NodeKeyAlgorithm, string> = { rsa: 'hub_identity', p256: 'hub_identity_ec' };

export const HUB_FILES = { key: 'hub.key', cert: 'hub.pem' } as const;
/** The hub's EC P-256 identity (this process's copy of hub_settings `hub_identity_ec`). */
export const HUB_EC_FILES = { key: 'hub-ec.key', cert: 'hub-ec.pem' } as const;

/** Why the current files cannot be used, or null when they can. */
async function problem(ca: HubCa, keyPem: string, certPem: string, hosts: readonly string[], now: Date, algorithm: NodeKeyAlgorithm): Promise<string | null> {
  let info;
  try {
    info = certInfo(certPem);
    if (!keyMatchesCert(keyPem, certFromPem(certPem))) return 'the key does not belong to the certificate';
    if (keyAlgorithmOf(keyPem) !== algorithm) return `the key is not ${algorithm === 'rsa' ? 'RSA' : 'EC P-256'}`;
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

/**
 * The hub's key and certificate, (re)issued when needed. `issued` says why a new one was made.
 * `algorithm` rsa (default): the TLS/audit identity; p256: the EC one.
 */
export async function ensureHubIdentity(db: Knex, ca: HubCa, o: { dataDir: string; hosts: readonly string[]; days: number; now: Date; algorithm?: NodeKeyAlgorithm }): Promise<{ keyPem: string; certPem: string; issued: string | null }> {
  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  const algorithm = o.algorithm ?? 'rsa';
  const files = algorithm === 'rsa' ? HUB_FILES : HUB_EC_FILES;
  const setting = SETTINGS[algorithm];
  const keyPath = join(o.dataDir, files.key);
  const certPath = join(o.dataDir, files.cert);
  const got = await db.transaction(async (trx) => {
    if (engineOf(db) === 'pg') await trx.raw('select pg_advisory_xact_lock(?)', [IDENTITY_LOCK_KEY]);
    const reg = new DbCertRegistry(trx);
    const tca: HubCa = { ...ca, certs: reg, tokens: reg };
    const row = (await trx('hub_settings').where({ name: setting }).first('value')) as { value: string } | undefined;
    let why = 'no hub certificate yet';
    if (row) {
      const stored = JSON.parse(row.value) as { certPem: string; key: string };
      const keyPem = unwrapHubKey(ca.keyPem, stored.key);
      const p = keyPem === null ? 'the stored hub key does not open with this CA key' : await problem(tca, keyPem, stored.certPem, o.hosts, o.now, algorithm);
      if (p === null) return { keyPem: keyPem!, certPem: stored.certPem, issued: null };
      why = p;
    } else if (existsSync(keyPath) && existsSync(certPath)) {
      const keyPem = readFileSync(keyPath, 'utf8');
      const certPem = readFileSync(certPath, 'utf8');
      const p = await problem(tca, keyPem, certPem, o.hosts, o.now, algorithm);
      if (p === null) {
        await store(trx, ca, setting, { keyPem, certPem }, false);
        return { keyPem, certPem, issued: null };
      }
      why = p;
    }
    const made = await issueHub(tca, { ...o, algorithm });
    await store(trx, ca, setting, made, row !== undefined);
    return { ...made, issued: why };
  });
  // this process's copy (rewritten only when it differs)
  if (!existsSync(certPath) || readFileSync(certPath, 'utf8') !== got.certPem || !existsSync(keyPath) || readFileSync(keyPath, 'utf8') !== got.keyPem) {
    writeFileAtomic(keyPath, got.keyPem, 0o600);
    writeFileAtomic(certPath, got.certPem, 0o644);
  }
  return got;
}

async function store(trx: Knex.Transaction, ca: HubCa, setting: string, id: Pick<HubIdentity, 'keyPem' | 'certPem'>, replace: boolean): Promise<void> {
  const value = JSON.stringify({ certPem: id.certPem, key: wrapHubKey(ca.keyPem, id.keyPem) });
  if (replace) await trx('hub_settings').where({ name: setting }).update({ value });
  else await trx('hub_settings').insert({ name: setting, value });
}

async function issueHub(ca: HubCa, o: { hosts: readonly string[]; days: number; now: Date; algorithm: NodeKeyAlgorithm }): Promise<Pick<HubIdentity, 'keyPem' | 'certPem'>> {
  const kp = generateKeyPair(o.algorithm);
  const cert = await issueCertificate(ca, createCsr(HUB_NODE_ID, kp), { days: o.days, hosts: o.hosts, now: o.now });
  return { keyPem: kp.privateKeyPem, certPem: cert.certPem };
}
