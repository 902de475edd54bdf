/**
 * When an evidence half was made, and whether its signer was revoked by then
 * (docs/exchange-log.md §4, step 3). `producedAt` is the signer's own word: a holder of a revoked
 * key could write a time before its revocation and attach an older, genuine CRL that does not list
 * it yet. So the verifier does not take it alone:
 *  - lower bound: the half cannot have been made before what it contains existed — the checkpoints
 *    its proofs are against and the exchange records it holds (the side's own clock), the witness
 *    cosignatures it carries (the witness's clock, which the signer cannot move). The latest of
 *    them, less EVIDENCE_CLOCK_SKEW_MS (skew between two machines; and halves made before this
 *    check existed read producedAt before signing the checkpoint for their proofs, by up to a
 *    signing's time): producedAt before that bound is ERR_EVIDENCE_BACKDATED;
 *  - the CRL: its thisUpdate ≤ producedAt (the CA's clock, same allowance; else ERR_EVIDENCE_BACKDATED:
 *    the half says it was made before the CRL it carries was issued) and producedAt ≤ its nextUpdate
 *    (else ERR_CRL_STALE);
 *  - revocation: the half's own signer certificate is checked against the CRLs of its root in the
 *    package (its own and the other half's: a revocation in either genuine CRL is a revocation) at
 *    the latest of producedAt and the times above: revoked at or before it, ERR_EVIDENCE_SIGNATURE;
 *  - a half with no CRL is not revocation-checked: ERR_EVIDENCE_REVOCATION_UNCHECKED, never a silent pass.
 * Pure: no I/O.
 */
import type { Cosignature } from './cosign.js';
import type { Problem } from './evidence-log.js';
import type { EvidenceHalf } from './evidence-package.js';
import type { Revocation } from './evidence-verify.js';
import type { InclusionProof } from './proofs.js';

/**
 * Allowance for the times a half contains or its CRL shows: 60 s, where `credit node check` fails a
 * node's clock against the hub's (the witness and the CA are the hub).
 */
export const EVIDENCE_CLOCK_SKEW_MS = 60_000;

interface Bound {
  at: number;
  what: string;
}

function later(a: Bound | null, b: Bound): Bound {
  return a === null || b.at > a.at ? b : a;
}

/**
 * The times the half's contents show: the latest, raw (the revocation check), and the lower bound
 * on producedAt, the latest less EVIDENCE_CLOCK_SKEW_MS.
 */
function contentTimes(half: EvidenceHalf): { latest: Bound | null; floor: Bound | null } {
  let latest: Bound | null = null;
  const seen = (iso: unknown, what: string) => {
    const at = typeof iso === 'string' ? Date.parse(iso) : NaN;
    if (!Number.isNaN(at)) latest = later(latest, { at, what });
  };
  for (const p of half.proofs as InclusionProof[]) seen(p.checkpoint?.time, `the checkpoint of tree size ${p.treeSize} it proves against (time ${String(p.checkpoint?.time)})`);
  for (const e of half.exchange as { recordedAt?: unknown; header?: { id?: unknown } }[]) seen(e.recordedAt, `the exchange record of ${String(e.header?.id)} it holds (recorded ${String(e.recordedAt)})`);
  for (const c of half.cosignatures as Cosignature[]) seen(c.cosignedAt, `the cosignature of tree size ${c.treeSize} by ${c.witness} it carries (cosignedAt ${c.cosignedAt})`);
  const l = latest as Bound | null;
  return { latest: l, floor: l === null ? null : { at: l.at - EVIDENCE_CLOCK_SKEW_MS, what: `${l.what}, less ${EVIDENCE_CLOCK_SKEW_MS / 1000} s` } };
}

export interface HalfCrl {
  thisUpdate: Date;
  nextUpdate: Date | undefined;
}

/**
 * The time checks of one signed half: producedAt against its contents and its own CRL ('none':
 * ERR_EVIDENCE_REVOCATION_UNCHECKED; 'refused': it did not verify, already reported), and its signer (serial) against `revoked`, the entries of every
 * CRL of its root in the package that verified.
 * Returns the problems and the time at which revocation was judged.
 */
export function halfTimeProblems(half: EvidenceHalf, envelopeId: string, crl: HalfCrl | 'none' | 'refused', signerSerial: string, revoked: readonly Revocation[]): { problems: Problem[]; judgedAt: Date } {
  const problems: Problem[] = [];
  const produced = Date.parse(half.producedAt);
  const { latest, floor } = contentTimes(half);
  const said = `${half.side}: producedAt ${half.producedAt}`;
  if (floor !== null && produced < floor.at) {
    problems.push({ code: 'ERR_EVIDENCE_BACKDATED', id: envelopeId, message: `${said} is before ${floor.what}: the half was made later than it says` });
  }
  if (crl === 'none') {
    problems.push({ code: 'ERR_EVIDENCE_REVOCATION_UNCHECKED', id: envelopeId, message: `${half.side}: the half carries no CRL, so its signer and the envelopes' signers were not checked for revocation when it was made; the ${half.role} operator makes the half again once its side holds a CRL (a node fetches GET /v1/crl, or GET /v1/crl/sm2 on SM, at start and every 15 minutes)` });
  } else if (crl !== 'refused') {
    if (crl.thisUpdate.getTime() - EVIDENCE_CLOCK_SKEW_MS > produced) {
      problems.push({ code: 'ERR_EVIDENCE_BACKDATED', id: envelopeId, message: `${said} is before the CRL it carries was issued (thisUpdate ${crl.thisUpdate.toISOString()}): the half was made later than it says` });
    }
    if (crl.nextUpdate === undefined || crl.nextUpdate.getTime() < produced) {
      problems.push({ code: 'ERR_CRL_STALE', id: envelopeId, message: `${half.side}: its CRL (nextUpdate ${crl.nextUpdate?.toISOString() ?? 'none'}) was past its nextUpdate when the half was produced (${half.producedAt}): revocations after it would be missing` });
    }
  }
  const judgedAt = new Date(Math.max(produced, latest?.at ?? produced));
  const r = revoked.find((x) => x.serial === signerSerial);
  if (r && r.revokedAt.getTime() <= judgedAt.getTime()) {
    problems.push({ code: 'ERR_EVIDENCE_SIGNATURE', id: envelopeId, message: `${half.side}: the half's signer certificate ${signerSerial} was revoked${r.reason ? ` (${r.reason})` : ''} at ${r.revokedAt.toISOString()}, not after the half was made (${judgedAt.toISOString()}: the later of producedAt and the times it contains)` });
  }
  return { problems, judgedAt };
}
