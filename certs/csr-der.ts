/**
 * The encoding check every PKCS#10 request (RFC 2986) passes before any of its fields is read
 * (csr.ts for RSA and EC P-256, sm2-x509.ts for SM2): DER all the way down (protocol/der-strict.ts),
 * and DER inside the two values that wrap encodings of their own — an RSA key's RSAPublicKey in the
 * SubjectPublicKeyInfo BIT STRING and an ECDSA or SM2 signature's SEQUENCE { r, s } in the
 * signature BIT STRING. The request's shape: SEQUENCE { CertificationRequestInfo SEQUENCE {
 * version INTEGER 0, subject (its shape is the readers' to judge: ERR_CSR_SUBJECT_INVALID),
 * SubjectPublicKeyInfo SEQUENCE, [0] attributes },
 * AlgorithmIdentifier SEQUENCE, BIT STRING with no unused bits }. A request that fails is
 * refused as ERR_CSR_INVALID by the caller, whose message names the rule broken.
 */
import { assertStrictDer } from '../protocol/der-strict.js';
import { children, expectTag, readOid, readUnsigned } from '../protocol/der.js';

const RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
/** ecdsa-with-SHA1/224/256/384/512 (1.2.840.10045.4.1, 4.3.1–4.3.4) and SM2-with-SM3. */
const R_S_SIGNATURES = new Set(['1.2.840.10045.4.1', '1.2.840.10045.4.3.1', '1.2.840.10045.4.3.2', '1.2.840.10045.4.3.3', '1.2.840.10045.4.3.4', '1.2.156.10197.1.501']);

function fail(message: string): never {
  throw new Error(`DER: ${message}`);
}

/** The bits of a BIT STRING that must hold whole octets. */
function octetBits(bits: Buffer, what: string): Buffer {
  if (bits[0] !== 0) fail(`${what} BIT STRING has unused bits`);
  return bits.subarray(1);
}

/** Throws Error('DER: …') unless `der` is a strictly DER-encoded PKCS#10 request (see above). */
export function assertCsrDer(der: Buffer): void {
  const top = expectTag(assertStrictDer(der), 0x30, 'CertificationRequest');
  const [info, alg, sig, extra] = children(top);
  if (extra !== undefined) fail('CertificationRequest has more than three elements');
  const [version, , spki, attrs, more] = children(expectTag(info, 0x30, 'CertificationRequestInfo'));
  if (more !== undefined || (attrs !== undefined && attrs.tag !== 0xa0)) fail('CertificationRequestInfo is not { version, subject, subjectPKInfo, [0] attributes }');
  if (readUnsigned(expectTag(version, 0x02, 'version')) !== 0n) fail('version is not 0 (v1)');
  const [keyAlg, keyBits] = children(expectTag(spki, 0x30, 'SubjectPublicKeyInfo'));
  const keyOid = readOid(expectTag(children(expectTag(keyAlg, 0x30, 'key AlgorithmIdentifier'))[0], 0x06, 'key algorithm'));
  const key = octetBits(expectTag(keyBits, 0x03, 'subjectPublicKey').value, 'subjectPublicKey');
  if (keyOid === RSA_ENCRYPTION) assertStrictDer(key);
  const sigOid = readOid(expectTag(children(expectTag(alg, 0x30, 'signatureAlgorithm'))[0], 0x06, 'signature algorithm'));
  const sigValue = octetBits(expectTag(sig, 0x03, 'signature').value, 'signature');
  if (R_S_SIGNATURES.has(sigOid)) {
    const rs = children(expectTag(assertStrictDer(sigValue), 0x30, 'signature value'));
    if (rs.length !== 2) fail('signature value is not SEQUENCE { r, s }');
    for (const v of rs) if (readUnsigned(v) === 0n) fail('signature value holds a zero');
  }
}
