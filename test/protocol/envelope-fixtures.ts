/**
 * Shared fixtures for the envelope tests: a per-run test PKI (RSA identities from
 * test/helpers/pki.ts, EC P-256 identities issued by the same CA with the openssl CLI), and
 * `forge()`, which builds an envelope step by step like seal() but without seal()'s own checks,
 * so tests can make authentic-but-wrong envelopes (sender mismatch, transplanted ciphertext).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issue, makeCa, type TestCa, type TestIdentity } from '../helpers/pki.js';
import { canonicalize } from '../../protocol/canonical-json.js';
import { certFromPem, jweEncrypt, jwsSignDetached, privateKeyFromPem } from '../../protocol/crypto.js';
import { encBinding, signingInput, type Envelope, type EnvelopeHeader } from '../../protocol/envelope.js';
import { caTrust } from '../../protocol/ca-trust.js';
import { getSuite } from '../../protocol/suites.js';

/** An EC P-256 identity (CN = nodeId) issued by the RSA test CA, made with the real openssl CLI. */
export function issueEc(ca: TestCa, nodeId: string): TestIdentity {
  const dir = mkdtempSync(join(tmpdir(), 'cf-ec-'));
  try {
    const f = (n: string) => join(dir, n);
    writeFileSync(f('ca.pem'), ca.certPem);
    writeFileSync(f('ca.key'), ca.keyPem, { mode: 0o600 });
    writeFileSync(f('ext.cnf'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\n');
    const run = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    run('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f('node.key'));
    run('req', '-new', '-key', f('node.key'), '-subj', `/CN=${nodeId}/C=CN`, '-out', f('node.csr'));
    run('x509', '-req', '-in', f('node.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-set_serial', '0x' + Date.now().toString(16), '-days', '30', '-sha256', '-extfile', f('ext.cnf'), '-out', f('node.pem'));
    const certPem = readFileSync(f('node.pem'), 'utf8');
    return { nodeId, certPem, keyPem: readFileSync(f('node.key'), 'utf8'), serial: certFromPem(certPem).serial };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Pki {
  ca: TestCa;
  hub: TestIdentity;
  changsha: TestIdentity;
  changde: TestIdentity;
  trust: ReturnType<typeof caTrust>;
}

/** One CA, the hub (430000) and two city nodes (430100 长沙, 430700 常德). */
export function makePki(): Pki {
  const ca = makeCa();
  return { ca, hub: issue(ca, '430000'), changsha: issue(ca, '430100'), changde: issue(ca, '430700'), trust: caTrust({ caCertPems: [ca.certPem] }) };
}

/** Builds and signs an envelope from an arbitrary header, skipping seal()'s checks. */
export async function forge(opts: { header: EnvelopeHeader; payload: unknown; signerKeyPem: string; recipientCertPem: string; binding?: EnvelopeHeader }): Promise<Envelope> {
  const suite = getSuite(opts.header.suite);
  const enc = jweEncrypt(Buffer.from(canonicalize(opts.payload)), certFromPem(opts.recipientCertPem).publicKey, {
    alg: suite.jweAlg,
    enc: suite.jweEnc,
    cty: 'json',
    cf: encBinding(opts.binding ?? opts.header),
  });
  const sig = await jwsSignDetached(signingInput(opts.header, enc), privateKeyFromPem(opts.signerKeyPem), { alg: suite.jwsAlg });
  return { ...opts.header, enc, sig };
}

/** Re-signs `env` after replacing its header (enc untouched) with the given key. */
export async function resign(env: Envelope, header: EnvelopeHeader, signerKeyPem: string): Promise<Envelope> {
  const suite = getSuite(header.suite);
  const sig = await jwsSignDetached(signingInput(header, env.enc), privateKeyFromPem(signerKeyPem), { alg: suite.jwsAlg });
  return { ...header, enc: env.enc, sig };
}

/** The code of the CreditError a promise rejects with ('resolved' if it does not). */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return String((e as { code?: unknown }).code ?? (e as Error).message);
  }
}
