/**
 * SM2 certificates and CRLs for the provincial CA (GM/T 0015, RFC 5280 profile), built as DER
 * here because neither node-forge nor @peculiar/x509 can sign SM2-with-SM3. Signatures use SM3
 * and the default ID 1234567812345678, which is what `openssl verify -vfyopt
 * distid:1234567812345678` checks. The CA signs directly: a 2-level chain (root → node), since
 * OpenSSL 3.0 fails 3-level SM2 chains (openssl#23471). Crypto through protocol/sm-crypto.ts.
 */
import { bitString, bool, children, expectTag, explicit, octets, oid, readOid, readSequence, seq, set, time, tlv, uint, utf8String, type DerNode } from '../protocol/der.js';
import { OID, randomBytes, sm2GenerateKeyPem, sm2KeyFromPem, sm2PointFromSpki, sm2Sign, sm2Spki, sm2Verify, sm3, type Sm2PrivateKey } from '../protocol/sm-crypto.js';
import { assertCsrDer } from './csr-der.js';
import { certError } from './errors.js';

const SM2_WITH_SM3 = seq(oid(OID.sm2WithSm3));
const EXT = { basicConstraints: '2.5.29.19', keyUsage: '2.5.29.15', extKeyUsage: '2.5.29.37', ski: '2.5.29.14', aki: '2.5.29.35', crlNumber: '2.5.29.20', crlReason: '2.5.29.21' };
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

export interface Sm2Issuer {
  /** Subject CN of the CA. */
  cn: string;
  key: Sm2PrivateKey;
}

function name(cn: string): Buffer {
  return seq(set(seq(oid('2.5.4.6'), tlv(0x13, Buffer.from('CN')))), set(seq(oid('2.5.4.3'), utf8String(cn))));
}

function ext(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
}

/** Key identifier: the first 20 bytes of SM3 over the public point (RFC 5280 §4.2.1.2 method 1, with SM3). */
export function sm2KeyId(point: string): Buffer {
  return sm3(Buffer.from(point, 'hex')).subarray(0, 20);
}

function signed(tbs: Buffer, key: Sm2PrivateKey, userId?: string): Buffer {
  return seq(tbs, SM2_WITH_SM3, bitString(sm2Sign(key, tbs, { userId })));
}

function pem(label: string, der: Buffer): string {
  return `-----BEGIN ${label}-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;
}

function serialNumber(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x40; // positive, 16 bytes
  return b;
}

export interface Sm2CertOptions {
  cn: string;
  /** Subject public point (04‖x‖y hex). */
  publicKey: string;
  issuer: Sm2Issuer;
  isCa?: boolean;
  days?: number;
  now?: Date;
  serial?: Buffer;
}

/** An SM2-with-SM3 certificate as PEM. CA: keyCertSign + cRLSign; node: digitalSignature + key/dataEncipherment, clientAuth. */
export function issueSm2Certificate(o: Sm2CertOptions): { certPem: string; serialHex: string } {
  const now = o.now ?? new Date();
  const notBefore = new Date(now.getTime() - 5 * 60_000);
  const notAfter = new Date(now.getTime() + (o.days ?? (o.isCa ? 3650 : 365)) * 86_400_000);
  const serial = o.serial ?? serialNumber();
  const exts = o.isCa
    ? [ext(EXT.basicConstraints, true, seq(bool(true), uint(0n))), ext(EXT.keyUsage, true, Buffer.from([0x03, 0x02, 0x01, 0x06]))]
    : [ext(EXT.basicConstraints, true, seq()), ext(EXT.keyUsage, true, Buffer.from([0x03, 0x02, 0x04, 0xb0])), ext(EXT.extKeyUsage, false, seq(oid(CLIENT_AUTH)))];
  exts.push(ext(EXT.ski, false, octets(sm2KeyId(o.publicKey))), ext(EXT.aki, false, seq(tlv(0x80, sm2KeyId(o.issuer.key.publicKey)))));
  const tbs = seq(explicit(0, uint(2n)), uint(serial), SM2_WITH_SM3, name(o.issuer.cn), seq(time(notBefore), time(notAfter)), name(o.cn), sm2Spki(o.publicKey), explicit(3, seq(...exts)));
  return { certPem: pem('CERTIFICATE', signed(tbs, o.issuer.key)), serialHex: serial.toString('hex').toUpperCase() };
}

/** A self-signed SM2 root: key (PKCS#8 PEM) and certificate. */
export function createSm2Ca(o: { cn: string; days?: number; now?: Date }): { certPem: string; keyPem: string; issuer: Sm2Issuer } {
  const { privateKeyPem } = sm2GenerateKeyPem();
  const key = sm2KeyFromPem(privateKeyPem);
  const issuer = { cn: o.cn, key };
  const { certPem } = issueSm2Certificate({ cn: o.cn, publicKey: key.publicKey, issuer, isCa: true, days: o.days, now: o.now });
  return { certPem, keyPem: privateKeyPem, issuer };
}

/** A node's SM2 signing/encryption key and certificate (CN = node id), issued by `issuer`. */
export function issueSm2NodeIdentity(issuer: Sm2Issuer, nodeId: string, o: { days?: number; now?: Date } = {}): { certPem: string; keyPem: string; serialHex: string } {
  const { privateKeyPem, publicKey } = sm2GenerateKeyPem();
  return { ...issueSm2Certificate({ cn: nodeId, publicKey, issuer, ...o }), keyPem: privateKeyPem };
}

export interface Sm2CrlEntry {
  serialHex: string;
  revokedAt: Date;
  /** RFC 5280 CRLReason code (1 keyCompromise, 4 superseded, 5 cessationOfOperation …), as a reasonCode entry extension. */
  reasonCode?: number;
}

/**
 * An X.509 v2 CRL signed SM2-with-SM3 (cRLNumber, authorityKeyIdentifier), PEM. thisUpdate is
 * `now`, nextUpdate `now + nextUpdateDays` (default 7). Signed with the standard ID
 * 1234567812345678 unless `userId` says otherwise ('' for what OpenSSL 3.0 can check).
 */
export function buildSm2Crl(issuer: Sm2Issuer, entries: readonly Sm2CrlEntry[], o: { number: bigint; now?: Date; nextUpdateDays?: number; userId?: string }): string {
  const now = o.now ?? new Date();
  const next = new Date(now.getTime() + (o.nextUpdateDays ?? 7) * 86_400_000);
  const revoked = entries.map((e) => {
    const serial = uint(Buffer.from(e.serialHex.length % 2 ? `0${e.serialHex}` : e.serialHex, 'hex'));
    if (e.reasonCode === undefined) return seq(serial, time(e.revokedAt));
    return seq(serial, time(e.revokedAt), seq(ext(EXT.crlReason, false, tlv(0x0a, Buffer.from([e.reasonCode])))));
  });
  const exts = explicit(0, seq(ext(EXT.crlNumber, false, uint(o.number)), ext(EXT.aki, false, seq(tlv(0x80, sm2KeyId(issuer.key.publicKey))))));
  const tbs = seq(uint(1n), SM2_WITH_SM3, name(issuer.cn), time(now), time(next), ...(revoked.length > 0 ? [seq(...revoked)] : []), exts);
  return pem('X509 CRL', signed(tbs, issuer.key, o.userId));
}

/**
 * An SM2 PKCS#10 request for `cn`, self-signed SM2-with-SM3 with the standard ID by `keyPem` (PKCS#8
 * PEM): what `openssl req -new -key sm2.key -sm3 -sigopt distid:1234567812345678 -subj /CN=…` makes.
 */
export function createSm2Csr(cn: string, keyPem: string): string {
  const key = sm2KeyFromPem(keyPem);
  const info = seq(uint(0n), seq(set(seq(oid('2.5.4.3'), utf8String(cn)))), sm2Spki(key.publicKey), tlv(0xa0, Buffer.alloc(0)));
  return pem('CERTIFICATE REQUEST', signed(info, key));
}

/**
 * A node's SM2 PKCS#10 request (`openssl req -new -key sm2.key -sm3 -sigopt
 * distid:1234567812345678 -subj /CN=430100`): SM2-with-SM3 self-signature checked with the
 * standard ID (proof of possession), exactly one CN, an SM2 key. Returns the CN and the point.
 */
export function parseSm2Csr(csrPem: string): { cn: string; publicKey: string } {
  let info: DerNode;
  let parts: DerNode[];
  try {
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    assertCsrDer(der);
    parts = children(readSequence(der, 'CertificationRequest'));
    info = expectTag(parts[0], 0x30, 'CertificationRequestInfo');
  } catch (e) {
    throw certError('ERR_CSR_INVALID', `SM2 certificate request cannot be read: ${(e as Error).message}`);
  }
  const [, subject, spki] = children(info);
  const publicKey = spki === undefined ? undefined : sm2PointFromSpki(spki.raw);
  if (publicKey === undefined) throw certError('ERR_CSR_KEY_UNSUPPORTED', 'the request\'s key is not an SM2 key (curve 1.2.156.10197.1.301)');
  let sigOk = false;
  try {
    const alg = readOid(children(expectTag(parts[1], 0x30, 'signatureAlgorithm'))[0]!);
    const bits = expectTag(parts[2], 0x03, 'signature').value;
    sigOk = parts.length === 3 && alg === OID.sm2WithSm3 && bits[0] === 0 && sm2Verify(publicKey, info.raw, bits.subarray(1));
  } catch {
    sigOk = false;
  }
  if (!sigOk) throw certError('ERR_CSR_INVALID', 'the SM2 request\'s self-signature (SM2-with-SM3, ID 1234567812345678) does not verify');
  const cns: string[] = [];
  try {
    for (const rdn of children(expectTag(subject, 0x30, 'subject'))) {
      for (const atv of children(expectTag(rdn, 0x31, 'RelativeDistinguishedName'))) {
        const [type, value, extra] = children(expectTag(atv, 0x30, 'AttributeTypeAndValue'));
        if (type === undefined || value === undefined || extra !== undefined) throw new Error('DER: AttributeTypeAndValue is not { type, value }');
        if (readOid(type) === '2.5.4.3') cns.push(value.value.toString('utf8'));
      }
    }
  } catch (e) {
    throw certError('ERR_CSR_SUBJECT_INVALID', `the SM2 request's subject cannot be read: ${(e as Error).message}`);
  }
  if (cns.length !== 1 || !/^\d{6}$/.test(cns[0]!)) throw certError('ERR_CSR_SUBJECT_INVALID', `the SM2 request's subject must hold exactly one CN, a 6-digit node id (found ${cns.length === 0 ? 'none' : cns.join(', ')})`);
  return { cn: cns[0]!, publicKey };
}
