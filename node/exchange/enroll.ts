/**
 * Enrolment of a node with the hub (`credit node init`): a new RSA key, a CSR whose CN is the node
 * id, POST /v1/enroll with the one-time token over TLS that trusts only the given CA certificate
 * and only a server whose CN is 430000; the answer is checked (a node certificate from that CA,
 * for this node and this key) before DATADIR/exchange/ is written. The key never leaves the node.
 */
import { certError } from '../../certs/errors.js';
import { HUB_NODE_ID } from '../../certs/issue.js';
import { createCsr, generateRsaKeyPair } from '../../certs/pki-crypto.js';
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
  timeoutMs?: number;
  now?: Date;
}

export async function enrollNode(o: EnrollNodeOptions): Promise<{ enrolment: Enrolment; paths: ExchangePaths }> {
  const paths = exchangePaths(o.dataDir);
  if (isEnrolled(o.dataDir)) throw certError('ERR_KEY_EXISTS', `${paths.cert} exists: this node is already enrolled (renewal is automatic; to re-enrol, move ${paths.dir} away first)`);
  const trust = await trustFromCa({ caCertPem: o.caCertPem });
  const kp = generateRsaKeyPair();
  const client = createHubClient({ url: o.hubUrl.replace(/\/$/, ''), caCertPem: o.caCertPem, timeoutMs: o.timeoutMs ?? 30_000, connections: 1 });
  let res;
  try {
    res = await client.enroll({ token: o.token, csrPem: createCsr(o.nodeId, kp) });
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
  if (!Number.isInteger(res.grade) || res.grade < 1 || res.grade > 4) throw bad(`grade ${String(res.grade)} is not 1–4`);
  const enrolment: Enrolment = {
    nodeId: o.nodeId, grade: res.grade, hubUrl: o.hubUrl, serial: validity(res.certPem).serial,
    notBefore: certFromPem(res.certPem).notBefore.toISOString(), notAfter: cert.notAfter.toISOString(), enrolledAt: now.toISOString(),
  };
  writeEnrolment(o.dataDir, { nodeId: o.nodeId, keyPem: kp.privateKeyPem, certPem: res.certPem, caCertPem: o.caCertPem, hubCertPem: res.hubCertPem, enrolment });
  return { enrolment, paths };
}
