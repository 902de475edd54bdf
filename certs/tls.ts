/**
 * Options for node:tls / https / undici built from the CA's artefacts: mutual TLS with the
 * provincial CA as the only trust anchor, TLS 1.2+, and (given a CRL) revoked peers refused in
 * the handshake (node sets OpenSSL's CRL_CHECK | CRL_CHECK_ALL when a `crl` is given, so the CRL
 * must be current: after its nextUpdate every peer is refused — publish a fresh one in time).
 * The same certificates sign envelopes.
 */
import { checkServerIdentity, type PeerCertificate, type TLSSocket } from 'node:tls';
import { isNodeId } from '../protocol/identifiers.js';
import { certInfo } from './pki-crypto.js';

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
    minVersion: 'TLSv1.2',
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
    minVersion: 'TLSv1.2',
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
