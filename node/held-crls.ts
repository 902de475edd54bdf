/**
 * The CRLs a node holds from the hub and how long each stays current: the RSA root's (GET /v1/crl,
 * gating everything from the hub) and, when the node enrolled with an SM2 key, the SM2 root's
 * (GET /v1/crl/sm2, carried by the evidence halves of an SM log). What /readyz, /metrics and the
 * node's own checks report. Parsed once per PEM.
 */
import { parseCrl } from '../certs/crl.js';
import type { ExchangeMaterial } from './exchange/files.js';

export interface HeldCrl {
  crl: 'rsa' | 'sm2';
  nextUpdate: Date | undefined;
  revoked: ReadonlySet<string>;
}

const parsed = new Map<string, Promise<{ nextUpdate: Date | undefined; revoked: Set<string> }>>();

function read(pem: string) {
  let p = parsed.get(pem);
  if (!p) {
    if (parsed.size > 8) parsed.clear();
    p = parseCrl(pem).then((c) => ({ nextUpdate: c.nextUpdate, revoked: c.revoked }));
    parsed.set(pem, p);
  }
  return p;
}

export async function heldCrls(m: ExchangeMaterial): Promise<HeldCrl[]> {
  const out: HeldCrl[] = [];
  if (m.crlPem !== undefined) out.push({ crl: 'rsa', ...(await read(m.crlPem)) });
  if (m.sm2 !== undefined && m.sm2CrlPem !== undefined) out.push({ crl: 'sm2', ...(await read(m.sm2CrlPem)) });
  return out;
}

/** Why a held CRL is not current at `now`, in an operator's words (null: current). */
export function staleCrlMessage(c: HeldCrl, now: Date): string | null {
  if (c.nextUpdate !== undefined && c.nextUpdate.getTime() >= now.getTime()) return null;
  const when = c.nextUpdate?.toISOString() ?? '(none)';
  return c.crl === 'rsa'
    ? `the hub's CRL is past its nextUpdate ${when}: nothing from the hub is trusted until the node fetches a current one (GET /v1/crl) [ERR_CRL_STALE]`
    : `the hub's SM2 CRL is past its nextUpdate ${when}: evidence halves of this node's SM log would carry it stale (ERR_CRL_STALE) until the node fetches a current one (GET /v1/crl/sm2) [ERR_CRL_STALE]`;
}
