/**
 * Who is calling: the per-request client check of every mutual-TLS route. The TLS layer asks for
 * a certificate but lets every handshake through (enrolment needs none), so here, on each request,
 * even on a kept-alive connection:
 *   no certificate                       → 401 ERR_CLIENT_CERT_REQUIRED
 *   not accepted by the handshake        → 403 ERR_CERT_EXPIRED (expired / not yet valid) or ERR_CERT_UNTRUSTED
 *   chain, validity, node-id CN (trust)  → 403 ERR_CERT_UNTRUSTED / ERR_CERT_EXPIRED
 *   revoked in the hub's register        → 403 ERR_CERT_REVOKED (also when the node itself was revoked)
 *   not in the register / no such node   → 403 ERR_NODE_UNKNOWN
 * Revocation is read from the database on every request, so it takes effect at once, in every
 * hub process, without waiting for a CRL. The read goes through `deps.reader`, so on SQLite it
 * does not queue behind a batch's write transaction (it sees the last commit).
 */
import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import { certInfo, type CertInfo } from '../certs/pki-crypto.js';
import { protocolError } from '../protocol/errors.js';
import type { HubDeps } from './context.js';
import { hubError } from './errors.js';
import { nodesStore } from './nodes-store.js';

export interface Peer {
  nodeId: string;
  serial: string;
  fingerprint: string;
  /** The client certificate (PEM): answers are sealed to it. */
  certPem: string;
  /** The node's SM2 certificate, when it named one for this request (answer-keys.ts): feeds are then sealed to it under the SM suite. */
  sm2CertPem?: string;
  /** The node's registered protection grade (等保 level). */
  grade: number;
  lastSeenAt: string | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the client check on mutual-TLS routes. */
    peer?: Peer;
    /** The certificate fingerprint of a refused client, for the audit entry. */
    peerFingerprint?: string;
  }
}

const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
const parsed = new WeakMap<TLSSocket, { info: CertInfo; pem: string }>();

function peerCert(socket: TLSSocket): { info: CertInfo; pem: string } | null {
  const cached = parsed.get(socket);
  if (cached) return cached;
  const x = typeof socket.getPeerX509Certificate === 'function' ? socket.getPeerX509Certificate() : undefined;
  if (!x) return null;
  const out = { info: certInfo(x.raw), pem: x.toString() };
  parsed.set(socket, out);
  return out;
}

export async function checkClient(deps: HubDeps, request: FastifyRequest): Promise<Peer> {
  const socket = request.raw.socket as TLSSocket;
  const cert = peerCert(socket);
  if (!cert) throw hubError('ERR_CLIENT_CERT_REQUIRED', 'this route needs mutual TLS: connect with the node certificate issued at enrolment');
  request.peerFingerprint = cert.info.fingerprint;
  if (!socket.authorized) {
    const why = String(socket.authorizationError ?? 'unknown');
    const code = EXPIRED.has((socket.authorizationError as { code?: string } | undefined)?.code ?? why) ? 'ERR_CERT_EXPIRED' : 'ERR_CERT_UNTRUSTED';
    throw protocolError(code, `client certificate refused: ${why}`, { serial: cert.info.serial });
  }
  const rec = await nodesStore.peer(deps.reader, cert.info.serial, deps.clock());
  // chain, validity now and node-id CN; a revoked serial is refused here too
  const signer = deps.trust.verifySigner(cert.pem, deps.clock());
  if (rec?.certStatus === 'revoked') throw protocolError('ERR_CERT_REVOKED', `certificate ${cert.info.serial} of ${signer.nodeId} has been revoked`, { serial: cert.info.serial });
  if (!rec || rec.node === null) throw hubError('ERR_NODE_UNKNOWN', `certificate ${cert.info.serial} of ${signer.nodeId} is not in this hub's register of enrolled nodes`, { nodeId: signer.nodeId });
  if (rec.node.status === 'revoked') throw protocolError('ERR_CERT_REVOKED', `node ${signer.nodeId} has been revoked at this hub`, { serial: cert.info.serial });
  const peer: Peer = { nodeId: signer.nodeId, serial: signer.serial, fingerprint: signer.fingerprint, certPem: cert.pem, grade: rec.node.grade, lastSeenAt: rec.node.lastSeenAt };
  request.peer = peer;
  return peer;
}
