/**
 * Options for node:tls / https / undici built from the CA's artefacts: mutual TLS with the
 * provincial CA as the only trust anchor, TLS 1.2+, and (given a CRL) revoked peers refused in
 * the handshake (node sets OpenSSL's CRL_CHECK | CRL_CHECK_ALL when a `crl` is given, so the CRL
 * must be current: after its nextUpdate every peer is refused — publish a fresh one in time).
 * The same certificates sign envelopes. Every listener and client offers TLS 1.3 first and, on
 * TLS 1.2, only ECDHE suites with AEAD ciphers (forward secrecy: no static-RSA key exchange).
 */
import { checkServerIdentity, type PeerCertificate, type TLSSocket } from 'node:tls';
import { isNodeId } from '../protocol/identifiers.js';
import { certInfo } from './pki-crypto.js';

/**
 * The suites offered, best first: the TLS 1.3 suites, then ECDHE + AEAD for TLS 1.2. Static-RSA
 * key exchange (AES256-GCM-SHA384, AES128-SHA …), CBC and SHA-1 MACs are not offered at all.
 */
export const TLS_CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
].join(':');

/** Protocol floor and suites for every TLS endpoint (hub, node API, clients): spread into the options. */
export const TLS_POLICY = { minVersion: 'TLSv1.2', ciphers: TLS_CIPHERS, honorCipherOrder: true } as const;

export interface TlsMaterial {
  caCertPem: string;
  certPem: string;
  keyPem: string;
  /** The CA's CRL (PEM): peers whose certificate it lists are refused. */
  crlPem?: string;
}

export interface TlsServerOptions {
  ca: string[];
  cert: string;
  key: string;
  crl?: string;
  requestCert: boolean;
  rejectUnauthorized: boolean;
  minVersion: 'TLSv1.2';
  ciphers: string;
  honorCipherOrder: true;
}

/** For tls.createServer / https.createServer / Fastify's `https`: client certificates required by default. */
export function tlsServerOptions(o: TlsMaterial & { requestCert?: boolean }): TlsServerOptions {
  const requestCert = o.requestCert ?? true;
  return {
    ca: [o.caCertPem],
    cert: o.certPem,
    key: o.keyPem,
    ...(o.crlPem !== undefined ? { crl: o.crlPem } : {}),
    requestCert,
    rejectUnauthorized: requestCert,
    ...TLS_POLICY,
  };
}

export interface TlsClientOptions {
  ca: string[];
  cert: string;
  key: string;
  crl?: string;
  servername?: string;
  rejectUnauthorized: true;
  minVersion: 'TLSv1.2';
  ciphers: string;
  checkServerIdentity?: (host: string, cert: PeerCertificate) => Error | undefined;
}

/**
 * For tls.connect / https.request / undici's `connect` option. The server's SAN must match the
 * host as usual; with `expectNodeId` (e.g. 430000 for the hub) its CN must also be that node id.
 */
export function tlsClientOptions(o: TlsMaterial & { servername?: string; expectNodeId?: string }): TlsClientOptions {
  const expect = o.expectNodeId;
  return {
    ca: [o.caCertPem],
    cert: o.certPem,
    key: o.keyPem,
    ...(o.crlPem !== undefined ? { crl: o.crlPem } : {}),
    ...(o.servername !== undefined ? { servername: o.servername } : {}),
    rejectUnauthorized: true,
    minVersion: TLS_POLICY.minVersion,
    ciphers: TLS_POLICY.ciphers,
    ...(expect === undefined
      ? {}
      : {
          checkServerIdentity: (host: string, cert: PeerCertificate) => {
            const cn = cert.subject?.CN;
            if (cn !== expect) return Object.assign(new Error(`server certificate is for node ${String(cn)}, expected ${expect}`), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
            return checkServerIdentity(host, cert);
          },
        }),
  };
}

export interface PeerIdentity {
  nodeId: string;
  serial: string;
  /** SHA-256 of the DER certificate, lower-case hex (as protocol's SignerIdentity.fingerprint). */
  fingerprint: string;
  notAfter: Date;
}

/** The node behind an authorised TLS socket, or null (not authorised, no certificate, CN not a node id). */
export function peerIdentity(socket: TLSSocket): PeerIdentity | null {
  if (!socket.authorized) return null;
  const x = socket.getPeerX509Certificate();
  if (!x) return null;
  const info = certInfo(x.raw);
  if (!isNodeId(info.cn)) return null;
  return { nodeId: info.cn, serial: info.serial, fingerprint: info.fingerprint, notAfter: info.notAfter };
}
