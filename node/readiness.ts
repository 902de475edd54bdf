/**
 * Why the node is not ready (/readyz): shutting down, the store not writable, the hub unreachable
 * for longer than HUB_UNREACHABLE_MS, the certificate expired, revoked or within CERT_MIN_DAYS of
 * its end, a CRL held from the hub past its nextUpdate (the RSA one; and the SM2 one when the node
 * enrolled with an SM2 key). Empty: ready.
 */
import { certInfo } from '../certs/pki-crypto.js';
import { storeWritable } from '../audit/start-checks.js';
import type { NodeContext } from './context.js';
import { heldCrls, staleCrlMessage } from './held-crls.js';
import { NODE_MIGRATIONS_TABLE } from './migrations.js';

export interface NotReadyReason {
  check: 'closing' | 'store' | 'hub' | 'certificate' | 'crl';
  message: string;
}

/** The hub may be away this long before the node reports not-ready (the exchange retries meanwhile). */
export const HUB_UNREACHABLE_MS = 15 * 60_000;
export const CERT_MIN_DAYS = 7;
const DAY_MS = 86_400_000;

export async function notReadyReasons(ctx: NodeContext, now: Date): Promise<NotReadyReason[]> {
  if (ctx.state.closing) return [{ check: 'closing', message: 'node is shutting down' }];
  const reasons: NotReadyReason[] = [];
  const store = await storeWritable(ctx.db, NODE_MIGRATIONS_TABLE);
  if (store !== null) reasons.push({ check: 'store', message: store });
  const ex = ctx.exchange;
  if (ex) {
    const { lastAt, failingSince } = ex.contact();
    if (failingSince !== null && now.getTime() - failingSince.getTime() > HUB_UNREACHABLE_MS) {
      reasons.push({ check: 'hub', message: `the hub has not answered since ${(lastAt ?? failingSince).toISOString()} (more than ${HUB_UNREACHABLE_MS / 60_000} minutes)` });
    }
    const m = ex.identity.current();
    const info = certInfo(m.certPem);
    const days = (info.notAfter.getTime() - now.getTime()) / DAY_MS;
    if (days <= 0) reasons.push({ check: 'certificate', message: `the node certificate expired ${info.notAfter.toISOString()}; re-enrol with a new token (credit node init)` });
    else if (days < CERT_MIN_DAYS) reasons.push({ check: 'certificate', message: `the node certificate expires in ${Math.floor(days)} day(s) (${info.notAfter.toISOString()}) and has not been renewed; check the hub connection` });
    const held = await heldCrls(m);
    const rsa = held.find((c) => c.crl === 'rsa');
    if (rsa?.revoked.has(info.serial)) reasons.push({ check: 'certificate', message: `the node certificate (serial ${info.serial}) is revoked by the hub; ask the hub operator for a new enrolment token` });
    for (const c of held) {
      const stale = staleCrlMessage(c, now);
      if (stale !== null) reasons.push({ check: 'crl', message: stale });
    }
    const absent = ex.sm2CrlAbsentSince();
    if (m.sm2 !== undefined && m.sm2CrlPem === undefined && absent !== null) reasons.push({ check: 'crl', message: `the hub has not served its SM2 CRL since ${absent.toISOString()} (GET /v1/crl/sm2: 404) [ERR_SM2_CA_ABSENT]` });
  }
  return reasons;
}
