/**
 * Enrolment of a node with the hub (`credit node init`): a new key (EC P-256 unless `algorithm` says
 * rsa), a CSR whose CN is the node
 * id, POST /v1/enroll with the one-time token over TLS that trusts only the given CA certificate
 * and only a server whose CN is 430000; the answer is checked (a node certificate from that CA,
 * for this node and this key) before DATADIR/exchange/ is written. The key never leaves the node.
 * With `sm2` the node also generates an SM2 key and sends an SM2 request (SM2-with-SM3, CN = node
 * id); the hub's SM2 root issues its SM2 certificate beside the TLS one (national suite), checked
 * the same way against the SM2 root the hub names — which must be one `sm2CaCertPem` pins when given.
 */
import { certError } from '../../certs/errors.js';
import { HUB_NODE_ID } from '../../certs/issue.js';
import { createCsr, generateKeyPair, type NodeKeyAlgorithm } from '../../certs/pki-crypto.js';
import { createSm2Csr } from '../../certs/sm2-x509.js';
import { sm2GenerateKeyPem } from '../../protocol/sm-crypto.js';
import type { EnrollResponse } from '../../protocol/exchange.js';
import type { Sm2Material } from './files.js';
import { trustFromCa } from '../../certs/trust.js';
import { certFromPem, keyMatchesCert } from '../../protocol/crypto.js';
import { nodeError } from '../errors.js';
import { exchangePaths, isEnrolled, validity, writeEnrolment, type Enrolment, type ExchangePaths } from './files.js';
import { createHubClient } from './hub-client.js';

export interface EnrollNodeOptions {
  dataDir: string;
  nodeId: string;
  hubUrl: string;
  token: string;
  /** The provincial CA certificate, obtained out of band from the hub operator. */
  caCertPem: string;
  /** The node key: `p256` (default; suite CF1-ECDH-ES-A256KW-A256GCM-ES256) or `rsa`. */
  algorithm?: NodeKeyAlgorithm;
  timeoutMs?: number;
  now?: Date;
  /** Also obtain an SM2 certificate (the national suite CF1-SM2-SM4GCM-SM3). */
  sm2?: boolean;
  /** The provincial SM2 root, obtained out of band like caCertPem; without it the one in the hub's answer is taken (the answer came over TLS pinned to caCertPem). */
  sm2CaCertPem?: string;
}

export async function enrollNode(o: EnrollNodeOptions): Promise<{ enrolment: Enrolment; paths: ExchangePaths }> {
  const paths = exchangePaths(o.dataDir);
  if (isEnrolled(o.dataDir)) throw certError('ERR_KEY_EXISTS', `${paths.cert} exists: this node is already enrolled (renewal is automatic; to re-enrol, move ${paths.dir} away first)`);
  const trust = await trustFromCa({ caCertPem: o.caCertPem });
  const kp = generateKeyPair(o.algorithm ?? 'p256');
  const sm2Key = o.sm2 ? sm2GenerateKeyPem() : undefined;
  const client = createHubClient({ url: o.hubUrl.replace(/\/$/, ''), caCertPem: o.caCertPem, timeoutMs: o.timeoutMs ?? 30_000, connections: 1 });
  let res;
  try {
    res = await client.enroll({ token: o.token, csrPem: createCsr(o.nodeId, kp), ...(sm2Key ? { sm2CsrPem: createSm2Csr(o.nodeId, sm2Key.privateKeyPem) } : {}) });
  } finally {
    await client.close();
  }
  const now = o.now ?? new Date();
  const bad = (m: string) => nodeError('ERR_HUB_ANSWER_INVALID', `enrolment answer refused: ${m}`);
  let cert;
  try {
    cert = trust.verifySigner(res.certPem, now);
    if (trust.verifySigner(res.hubCertPem, now).nodeId !== HUB_NODE_ID) throw bad('the hub certificate is not for 430000');
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_HUB_ANSWER_INVALID') throw e;
    throw bad(`a certificate does not verify against the given CA (${(e as { code?: string }).code ?? 'error'})`);
  }
  if (cert.nodeId !== o.nodeId || res.nodeId !== o.nodeId) throw bad(`the certificate is for ${cert.nodeId}, this node is ${o.nodeId}`);
  if (!keyMatchesCert(kp.privateKeyPem, certFromPem(res.certPem))) throw bad('the certificate is not for the key this node sent');
  // what this node encrypts to must be of its key type: a hub without an EC identity answers with its RSA certificate
  if (certFromPem(res.hubCertPem).keyKind !== certFromPem(res.certPem).keyKind) throw bad(`the hub certificate is ${certFromPem(res.hubCertPem).keyKind}, this node's key ${certFromPem(res.certPem).keyKind}: this hub cannot exchange with such a key (enrol with --algorithm rsa)`);
  if (!Number.isInteger(res.grade) || res.grade < 1 || res.grade > 4) throw bad(`grade ${String(res.grade)} is not 1–4`);
  const sm2 = sm2Key ? await checkSm2Answer(res.sm2, sm2Key.privateKeyPem, o, now, bad) : undefined;
  const enrolment: Enrolment = {
    nodeId: o.nodeId, grade: res.grade, hubUrl: o.hubUrl, serial: validity(res.certPem).serial,
    notBefore: certFromPem(res.certPem).notBefore.toISOString(), notAfter: cert.notAfter.toISOString(), enrolledAt: now.toISOString(),
  };
  writeEnrolment(o.dataDir, { nodeId: o.nodeId, keyPem: kp.privateKeyPem, certPem: res.certPem, caCertPem: o.caCertPem, hubCertPem: res.hubCertPem, enrolment, ...(sm2 ? { sm2 } : {}) });
  return { enrolment, paths };
}

/** The SM2 part of an answer: this node's certificate for the SM2 key it sent and the hub's (430000), both from the SM2 root. */
export async function checkSm2Answer(got: EnrollResponse['sm2'], keyPem: string, o: { nodeId: string; sm2CaCertPem?: string }, now: Date, bad: (m: string) => Error): Promise<Sm2Material> {
  if (got === undefined) throw bad('the hub issued no SM2 certificate (it has no SM2 root?)');
  if (o.sm2CaCertPem !== undefined && certFromPem(o.sm2CaCertPem).fingerprint !== certFromPem(got.caCertPem).fingerprint) throw bad('the hub names another SM2 root than the one given');
  const trust = await trustFromCa({ caCertPem: got.caCertPem });
  try {
    if (trust.verifySigner(got.certPem, now).nodeId !== o.nodeId) throw bad(`the SM2 certificate is not for ${o.nodeId}`);
    if (trust.verifySigner(got.hubCertPem, now).nodeId !== HUB_NODE_ID) throw bad('the hub SM2 certificate is not for 430000');
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_HUB_ANSWER_INVALID') throw e;
    throw bad(`an SM2 certificate does not verify against the SM2 root (${(e as { code?: string }).code ?? 'error'})`);
  }
  if (!keyMatchesCert(keyPem, certFromPem(got.certPem))) throw bad('the SM2 certificate is not for the SM2 key this node sent');
  return { keyPem, certPem: got.certPem, caCertPem: got.caCertPem, hubCertPem: got.hubCertPem };
}
