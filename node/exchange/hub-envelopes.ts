/**
 * Envelopes to and from the hub: seal with the node's current key to the hub's certificate; open
 * what the hub sends (signature, signer trusted by the provincial CA and = 430000, addressed to
 * this node, the expected type). An answer sealed to the key this node had before a renewal (the
 * request left on the old connection, or a stored receipt) is opened with that previous key.
 * A node holding an SM2 certificate (enrolled with one) seals under the national suite
 * CF1-SM2-SM4GCM-SM3 with its SM2 key to the hub's SM2 certificate, and opens SM answers with its
 * SM2 key; its suite policy (config hub.suites, e.g. ["SM"]) refuses anything else (ERR_SUITE_REFUSED).
 */
import { HUB_NODE_ID } from '../../certs/issue.js';
import type { EnvelopeType, Envelope } from '../../protocol/envelope.js';
import { isCreditError } from '../../protocol/errors.js';
import { open, type Opened } from '../../protocol/open.js';
import { seal } from '../../protocol/seal.js';
import { SM_SUITE, describeSuite, suiteAllowed } from '../../protocol/suites.js';
import { nodeError } from '../errors.js';
import type { ExchangeIdentity } from './identity.js';

export async function sealToHub(identity: ExchangeIdentity, o: { type: EnvelopeType; seq: number; id?: string; ts: Date; payload: unknown }): Promise<Envelope> {
  const m = identity.current();
  const sm = m.sm2 !== undefined && suiteAllowed(SM_SUITE, identity.suites);
  return seal({
    type: o.type, from: m.nodeId, to: HUB_NODE_ID, seq: o.seq, ts: o.ts, payload: o.payload,
    ...(o.id ? { id: o.id } : {}),
    ...(sm
      ? { suite: SM_SUITE, sender: { keyPem: m.sm2!.keyPem, certPem: m.sm2!.certPem }, recipientCertPem: m.sm2!.hubCertPem }
      : { sender: { keyPem: m.keyPem, certPem: m.certPem }, recipientCertPem: m.hubCertPem }),
    ...(identity.suites === undefined ? {} : { suites: identity.suites }),
  });
}

/** The suite an envelope names (before it is read properly: only to choose the key that opens it). */
function suiteNamed(raw: unknown): string | undefined {
  let v = raw;
  if (typeof raw === 'string') {
    try {
      v = JSON.parse(raw) as unknown;
    } catch {
      return undefined;
    }
  }
  const s = typeof v === 'object' && v !== null ? (v as { suite?: unknown }).suite : undefined;
  return typeof s === 'string' ? s : undefined;
}

export interface OpenFromHubOptions {
  now: Date;
  /** Check the time window (answers made just now); off for stored receipts re-sent later. */
  fresh: boolean;
  /** Check the signer's certificate at the envelope's own time instead of `now` (stored receipts). */
  atEnvelopeTime?: boolean;
}

function envelopeTime(raw: unknown): Date | undefined {
  const ts = typeof raw === 'object' && raw !== null ? (raw as { ts?: unknown }).ts : undefined;
  if (typeof ts !== 'string') return undefined;
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export async function openFromHub<P>(raw: unknown, type: EnvelopeType, identity: ExchangeIdentity, o: OpenFromHubOptions): Promise<Opened<P>> {
  const m = identity.current();
  const named = suiteNamed(raw);
  const smAnswer = named !== undefined && describeSuite(named)?.keyType === 'sm2' && m.sm2 !== undefined;
  const keys = smAnswer ? [m.sm2!.keyPem, ...(m.sm2!.previousKeyPem ? [m.sm2!.previousKeyPem] : [])] : [m.keyPem, ...(m.previousKeyPem ? [m.previousKeyPem] : [])];
  const at = (o.atEnvelopeTime ? envelopeTime(raw) : undefined) ?? o.now;
  let opened: Opened<P> | undefined;
  for (let i = 0; ; i++) {
    try {
      opened = await open<P>(raw, {
        trust: identity.trust(),
        now: at,
        recipient: { nodeId: m.nodeId, keyPem: keys[i]! },
        freshness: o.fresh ? {} : false,
        ...(identity.suites === undefined ? {} : { suites: identity.suites }),
      });
      break;
    } catch (e) {
      if (!(isCreditError(e) && e.code === 'ERR_DECRYPT_FAILED' && i + 1 < keys.length)) throw e;
    }
  }
  const h = opened.header;
  if (h.from !== HUB_NODE_ID) throw nodeError('ERR_HUB_ANSWER_INVALID', `expected an envelope from the hub ${HUB_NODE_ID}, got one from ${h.from}`, { from: h.from });
  if (h.type !== type) throw nodeError('ERR_HUB_ANSWER_INVALID', `expected a ${type} envelope, got ${h.type}`, { expected: type, type: h.type });
  await identity.adoptHubCert(h.x5c[0]!);
  return opened;
}
