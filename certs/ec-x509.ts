/**
 * EC P-256 node certificates and requests (issue 23), built as DER here because node-forge cannot
 * put an EC key in a certificate. The leaf has the RSA leaves' profile (pki-crypto.ts
 * signLeafCertificate) except keyUsage: X.509 v3, subject C=CN + CN=node id, issuer = the CA's
 * subject copied byte for byte, basicConstraints CA:false (critical), keyUsage digitalSignature +
 * keyAgreement (critical; ECDSA signatures and ECDH-ES, no key encipherment with an EC key),
 * extKeyUsage serverAuth + clientAuth, subjectAltName (DNS names and IP addresses), SKI = SHA-1 of
 * the subject key's BIT STRING, AKI = the CA's SKI. The RSA root signs it sha256WithRSAEncryption
 * (PKCS#1 v1.5, node:crypto through pki-crypto.ts). Only trusted input is read here (the CA's own
 * certificate and a key already checked by csr.ts); nothing from a client is parsed with forge.
 */
import { isIP } from 'node:net';
import { bitString, bool, children, derNull, expectTag, explicit, octets, oid, readOid, readOne, readSequence, seq, set, time, tlv, uint, type DerNode } from '../protocol/der.js';
import { ecdsaSha256Sign, publicKeyDer, rsaPkcs1Sha256Sign, sha1, type LeafOptions } from './pki-crypto.js';

const OIDS = {
  sha256WithRsa: '1.2.840.113549.1.1.11',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  country: '2.5.4.6',
  commonName: '2.5.4.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  ski: '2.5.29.14',
  aki: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** keyUsage BIT STRING: digitalSignature (bit 0) + keyAgreement (bit 4) = 0x88, 3 unused bits. */
const KU_SIGN_AGREE = Buffer.from([0x03, 0x02, 0x03, 0x88]);

function ext(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
}

/** Subject C=CN, CN=`cn` (PrintableString, as forge writes the RSA leaves' subject). */
function subjectName(cn: string): Buffer {
  return seq(set(seq(oid(OIDS.country), tlv(0x13, Buffer.from('CN')))), set(seq(oid(OIDS.commonName), tlv(0x13, Buffer.from(cn, 'ascii')))));
}

/** The 16 bytes of an IPv6 address (`::` expanded, an embedded IPv4 tail allowed). */
function ipv6Bytes(ip: string): Buffer {
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: number[] = [];
  if (v4) {
    tail = v4[1]!.split('.').map(Number);
    text = text.slice(0, -v4[1]!.length) + '0:0';
  }
  const [head, rest] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const h = head === '' ? [] : head.split(':');
  const r = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups = rest === undefined ? h : [...h, ...Array<string>(8 - h.length - r.length).fill('0'), ...r];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  if (tail.length === 4) Buffer.from(tail).copy(out, 12);
  return out;
}

/** GeneralNames: dNSName [2] IA5String, iPAddress [7] OCTET STRING (4 or 16 bytes). */
function altNames(hosts: readonly string[]): Buffer {
  return seq(...hosts.map((h) => {
    const v = isIP(h);
    if (v === 4) return tlv(0x87, Buffer.from(h.split('.').map(Number)));
    if (v === 6) return tlv(0x87, ipv6Bytes(h));
    return tlv(0x82, Buffer.from(h, 'ascii'));
  }));
}

/** The subjectPublicKey bits of an SPKI (without the unused-bits octet): what SKI method 1 hashes. */
function keyBits(spki: DerNode): Buffer {
  const bits = expectTag(children(spki)[1], 0x03, 'subjectPublicKey');
  return bits.value.subarray(1);
}

interface CaParts {
  /** The CA's subject Name, as DER. */
  subject: Buffer;
  /** The CA's subjectKeyIdentifier, or SHA-1 of its key bits when it has none. */
  keyId: Buffer;
}

/** Subject and key id of the CA certificate (trusted input: the CA's own certificate). */
function caParts(caCertPem: string): CaParts {
  const der = Buffer.from(caCertPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const tbs = expectTag(children(readSequence(der, 'Certificate'))[0], 0x30, 'tbsCertificate');
  const f = children(tbs);
  const at = f[0]?.tag === 0xa0 ? 1 : 0; // [0] version present
  const subject = expectTag(f[at + 4], 0x30, 'subject').raw;
  const spki = expectTag(f[at + 5], 0x30, 'subjectPublicKeyInfo');
  let keyId: Buffer | undefined;
  const exts = f.find((n) => n.tag === 0xa3);
  if (exts) {
    for (const e of children(expectTag(children(exts)[0], 0x30, 'extensions'))) {
      const parts = children(e);
      // extnValue is an OCTET STRING holding the DER of KeyIdentifier (itself an OCTET STRING)
      if (readOid(parts[0]!) === OIDS.ski) keyId = Buffer.from(expectTag(readOne(expectTag(parts[parts.length - 1], 0x04, 'extnValue').value), 0x04, 'keyIdentifier').value);
    }
  }
  return { subject: Buffer.from(subject), keyId: keyId ?? sha1(keyBits(spki)) };
}

function pem(label: string, der: Buffer): string {
  return `-----BEGIN ${label}-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;
}

/** As for an RSA leaf (pki-crypto.ts LeafOptions); `publicKeyPem` is the node's EC P-256 key, already checked by csr.ts. */
export type EcLeafOptions = LeafOptions;

/** An EC P-256 end-entity certificate signed by the RSA root (sha256WithRSAEncryption), PEM. */
export function signEcLeafCertificate(o: EcLeafOptions): string {
  const ca = caParts(o.caCertPem);
  const spkiDer = publicKeyDer(o.publicKeyPem);
  const spki = readSequence(spkiDer, 'SubjectPublicKeyInfo');
  const algId = seq(oid(OIDS.sha256WithRsa), derNull());
  const exts = [
    ext(OIDS.basicConstraints, true, seq()),
    ext(OIDS.keyUsage, true, KU_SIGN_AGREE),
    ext(OIDS.extKeyUsage, false, seq(oid(OIDS.serverAuth), oid(OIDS.clientAuth))),
    ext(OIDS.subjectAltName, false, altNames(o.hosts)),
    ext(OIDS.ski, false, octets(sha1(keyBits(spki)))),
    ext(OIDS.aki, false, seq(tlv(0x80, ca.keyId))),
  ];
  const tbs = seq(
    explicit(0, uint(2n)),
    uint(Buffer.from(o.serial.length % 2 ? `0${o.serial}` : o.serial, 'hex')),
    algId,
    ca.subject,
    seq(time(o.notBefore), time(o.notAfter)),
    subjectName(o.cn),
    spkiDer,
    explicit(3, seq(...exts)),
  );
  return pem('CERTIFICATE', seq(tbs, algId, bitString(rsaPkcs1Sha256Sign(o.caKeyPem, tbs))));
}

/**
 * A PKCS#10 request for an EC P-256 key: subject C=CN, CN=`cn`, no attributes, self-signed
 * ecdsa-with-SHA256 — what `openssl req -new -key node.key -subj /C=CN/CN=430100` makes.
 */
export function createEcCsr(cn: string, keyPair: { publicKeyPem: string; privateKeyPem: string }): string {
  const info = seq(uint(0n), subjectName(cn), publicKeyDer(keyPair.publicKeyPem), tlv(0xa0, Buffer.alloc(0)));
  return pem('CERTIFICATE REQUEST', seq(info, seq(oid(OIDS.ecdsaWithSha256)), bitString(ecdsaSha256Sign(keyPair.privateKeyPem, info))));
}
