/**
 * Which keys the hub answers a node with. A node that speaks the national suite (its request was
 * sealed under CF1-SM2-SM4GCM-SM3, or — for the feeds it fetches with GET — it names its SM2
 * certificate in the `x-cf-sm2-cert` request header) gets its answers sealed SM too: the hub's
 * SM2 key signs, the node's SM2 certificate is the recipient. Everyone else is answered to the TLS
 * client certificate, by the hub identity of that certificate's key type: the EC P-256 identity for
 * an EC node (suite CF1-ECDH-ES-A256KW-A256GCM-ES256), the RSA one for an RSA node. The hub's suite
 * policy (`suites`) applies to what is sealed, so an SM-only hub never answers in RSA
 * (ERR_SUITE_REFUSED instead).
 */
import { certFromPem, derB64ToPem } from '../protocol/crypto.js';
import type { EnvelopeHeader } from '../protocol/envelope.js';
import { protocolError } from '../protocol/errors.js';
import { describeSuite } from '../protocol/suites.js';
import type { Peer } from './client-check.js';
import type { HubDeps } from './context.js';
import { nodesStore } from './nodes-store.js';

export const SM2_CERT_HEADER = 'x-cf-sm2-cert';

export interface AnswerKeys {
  sender: { keyPem: string; certPem: string };
  recipientCertPem: string;
}

/** The keys for an answer to `peer`; `incoming` is the header of the envelope answered (already verified: its signer is the peer). */
export function answerKeys(deps: HubDeps, peer: Peer, incoming?: Pick<EnvelopeHeader, 'suite' | 'x5c'>): AnswerKeys {
  const sm2 = deps.identity.sm2;
  if (sm2 !== undefined) {
    if (incoming !== undefined && describeSuite(incoming.suite)?.keyType === 'sm2') return { sender: sm2, recipientCertPem: derB64ToPem(incoming.x5c[0]!) };
    if (incoming === undefined && peer.sm2CertPem !== undefined) return { sender: sm2, recipientCertPem: peer.sm2CertPem };
  }
  return { sender: hubIdentityFor(deps.identity, certFromPem(peer.certPem).keyKind), recipientCertPem: peer.certPem };
}

/** The hub's key and certificate for a peer key of `kind`: EC P-256 → the EC identity (when held), else the RSA one. */
export function hubIdentityFor(identity: HubDeps['identity'], kind: string): { keyPem: string; certPem: string } {
  if (kind === 'ec-p256' && identity.ec !== undefined) return identity.ec;
  return { keyPem: identity.keyPem, certPem: identity.certPem };
}

/**
 * The SM2 certificate a node names in `x-cf-sm2-cert` (base64 DER), checked like an envelope signer:
 * from the CA (ERR_CERT_UNTRUSTED / ERR_CERT_EXPIRED), the TLS peer's node (ERR_SENDER_MISMATCH),
 * active in the register (ERR_CERT_REVOKED). Undefined when the header is absent.
 */
export async function peerSm2Cert(deps: HubDeps, peer: Peer, header: string | string[] | undefined): Promise<string | undefined> {
  if (header === undefined) return undefined;
  const value = Array.isArray(header) ? header[0]! : header;
  let pem: string;
  try {
    pem = derB64ToPem(value);
  } catch {
    throw protocolError('ERR_CERT_UNTRUSTED', `the ${SM2_CERT_HEADER} header is not a base64 DER certificate`);
  }
  const now = deps.clock();
  const who = deps.trust.verifySigner(pem, now);
  if (who.nodeId !== peer.nodeId) throw protocolError('ERR_SENDER_MISMATCH', `the SM2 certificate named is for ${who.nodeId}, the TLS client is ${peer.nodeId}`, { signer: who.nodeId, peer: peer.nodeId });
  const rec = await nodesStore.peer(deps.db, who.serial, now);
  if (!rec || rec.certStatus === 'revoked') throw protocolError('ERR_CERT_REVOKED', `SM2 certificate ${who.serial} is not active in this hub's register`, { serial: who.serial });
  return pem;
}
