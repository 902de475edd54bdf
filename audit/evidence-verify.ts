/**
 * Offline verification of exchange evidence with only the CA certificate (and a CRL): each
 * envelope's JWS over canonical `{ header, digest }` with the key of its x5c[0]
 * (ERR_EXCHANGE_SIGNATURE), that certificate chaining to the CA at the envelope's ts and being
 * the sender's (ERR_EXCHANGE_UNTRUSTED_SIGNER), not revoked at or before the envelope's time or
 * the time it was recorded (ERR_EXCHANGE_REVOKED_SIGNER); then the pairing: every answer names an
 * envelope of the log by id and digest, and every batch has a receipt (ERR_EXCHANGE_UNPAIRED).
 * No I/O: the CLI reads the files (scripts/cli/exchange.ts).
 */
import { caTrust } from '../protocol/ca-trust.js';
import { certFromDerB64, jwsVerifyDetached, type ParsedCert } from '../protocol/crypto.js';
import { isCreditError } from '../protocol/errors.js';
import { getSuite } from '../protocol/suites.js';
import type { TrustPolicy } from '../protocol/trust.js';
import { ANSWERED_TYPES, REFUSAL_TYPES, answeredBy, evidenceSigningInput, type EnvelopeEvidence } from './evidence-record.js';
import type { ExchangeLog, Problem } from './evidence-log.js';

export interface Revocation {
  serial: string;
  revokedAt: Date;
  reason: string | undefined;
}

export interface EvidenceTrust {
  caCertPems: readonly string[];
  /** Entries of a CRL the caller has checked is signed by the CA (certs/crl.ts parseCrl). */
  revoked?: readonly Revocation[];
}

export interface ExchangeVerdict {
  node: string;
  role: 'node' | 'hub';
  envelopes: number;
  byType: Record<string, number>;
  /** Envelopes (batch, query) paired with their answer. */
  paired: number;
  problems: Problem[];
  /** Not failures: queries whose answer never came (the hub was unavailable), batch attempts superseded by a later one. */
  notes: string[];
}

const trustCache = new WeakMap<EvidenceTrust, TrustPolicy>();
function policyOf(t: EvidenceTrust): TrustPolicy {
  let p = trustCache.get(t);
  if (!p) trustCache.set(t, (p = caTrust({ caCertPems: t.caCertPems })));
  return p;
}

/** Checks one envelope's evidence; returns the problems found (none: it verifies). */
export async function checkEvidence(e: EnvelopeEvidence, trust: EvidenceTrust): Promise<Problem[]> {
  const h = e.header;
  const id = h.id;
  const fail = (code: string, message: string): Problem[] => [{ code, id, message: `${h.type} ${id} from ${h.from}: ${message}` }];
  let cert: ParsedCert;
  let alg: string;
  try {
    cert = certFromDerB64(h.x5c[0]!);
    const suite = getSuite(h.suite);
    if (cert.keyKind !== suite.keyType) return fail('ERR_EXCHANGE_SIGNATURE', `the signer key is ${cert.keyKind}, suite ${suite.name} signs with ${suite.keyType}`);
    alg = suite.jwsAlg;
  } catch (err) {
    return fail('ERR_EXCHANGE_SIGNATURE', `the signer certificate or suite cannot be read: ${isCreditError(err) ? err.message : String(err)}`);
  }
  if (!(await jwsVerifyDetached(e.sig, evidenceSigningInput(e), cert.publicKey, alg))) {
    return fail('ERR_EXCHANGE_SIGNATURE', 'the signature does not verify over the header and digest with the x5c certificate');
  }
  try {
    const who = policyOf(trust).verifySigner(cert.pem, new Date(h.ts));
    if (who.nodeId !== h.from) return fail('ERR_EXCHANGE_UNTRUSTED_SIGNER', `it is signed by ${who.nodeId}, not by the sender`);
  } catch (err) {
    return fail('ERR_EXCHANGE_UNTRUSTED_SIGNER', isCreditError(err) ? `${err.code}: ${err.message}` : String(err));
  }
  const r = trust.revoked?.find((x) => x.serial === cert.serial);
  if (r) {
    // the signer's own ts can be back-dated; the time the store recorded it cannot be moved by the signer
    const at = Math.max(Date.parse(h.ts), Date.parse(e.recordedAt));
    if (r.revokedAt.getTime() <= at) {
      return fail('ERR_EXCHANGE_REVOKED_SIGNER', `certificate ${cert.serial} was revoked${r.reason ? ` (${r.reason})` : ''} at ${r.revokedAt.toISOString()}, before this envelope (ts ${h.ts}, recorded ${e.recordedAt})`);
    }
  }
  return [];
}

/** The attempt signed last (header ts; ISO-8601 UTC with milliseconds compares as text); null when two share the latest ts. */
function lastAttempt(attempts: readonly EnvelopeEvidence[]): EnvelopeEvidence | null {
  const top = attempts.reduce((a, b) => (b.header.ts > a.header.ts ? b : a));
  return attempts.filter((a) => a.header.ts === top.header.ts).length === 1 ? top : null;
}

/** Answers (receipts, query answers) against what they answer; batches (and queries) without one. */
export function pairingProblems(list: readonly EnvelopeEvidence[]): { problems: Problem[]; notes: string[]; paired: number } {
  const problems: Problem[] = [];
  const notes: string[] = [];
  const byKey = new Map<string, EnvelopeEvidence>();
  const answerOf = new Map<string, string>(); // type → answered type
  for (const [asked, answer] of Object.entries(ANSWERED_TYPES)) answerOf.set(answer, asked);
  for (const [refusal, asked] of Object.entries(REFUSAL_TYPES)) answerOf.set(refusal, asked);
  for (const e of list) byKey.set(`${e.header.id} ${e.digest}`, e);
  const answered = new Set<string>(); // ids
  const refused = new Map<string, string>(); // `${batch id} ${attempt digest}` → the seq-refusal naming that attempt
  for (const e of list) {
    const asked = answerOf.get(e.header.type);
    if (asked === undefined) continue;
    const re = answeredBy(e.header);
    const id = e.header.id;
    if (!re) {
      problems.push({ code: 'ERR_EXCHANGE_UNPAIRED', id, message: `${e.header.type} ${id} names no ${asked} it answers (no re/reDigest in its signed header)` });
      continue;
    }
    const target = byKey.get(`${re.id} ${re.digest}`);
    if (!target) {
      const sameId = list.some((x) => x.header.id === re.id);
      problems.push({
        code: 'ERR_EXCHANGE_UNPAIRED', id,
        message: sameId
          ? `${e.header.type} ${id} answers ${asked} ${re.id} with digest ${re.digest}, which is not the digest of any ${asked} ${re.id} in this log`
          : `${e.header.type} ${id} answers ${asked} ${re.id}, which is not in this log`,
      });
      continue;
    }
    if (target.header.type !== asked || target.header.from !== e.header.to || target.header.to !== e.header.from) {
      problems.push({ code: 'ERR_EXCHANGE_UNPAIRED', id, message: `${e.header.type} ${id} names ${target.header.type} ${re.id} from ${target.header.from} to ${target.header.to}, not a ${asked} between the same two sides` });
      continue;
    }
    if (REFUSAL_TYPES[e.header.type]) refused.set(`${re.id} ${re.digest}`, id);
    else answered.add(re.id);
  }
  const asked = new Map<string, EnvelopeEvidence[]>();
  for (const e of list) {
    if (!ANSWERED_TYPES[e.header.type]) continue;
    const l = asked.get(e.header.id) ?? [];
    l.push(e);
    asked.set(e.header.id, l);
  }
  let paired = 0;
  for (const [id, attempts] of asked) {
    const type = attempts[0]!.header.type;
    if (answered.has(id)) {
      paired++;
      if (attempts.length > 1) notes.push(`${type} ${id} was signed ${attempts.length} times (re-sent); the ${ANSWERED_TYPES[type]} names one of them`);
    } else if (type === 'batch') {
      // excused only when its one latest attempt (by ts, strictly) was refused for its seq: not sent again (yet) when the log was exported
      const last = lastAttempt(attempts);
      const refusal = last && refused.get(`${id} ${last.digest}`);
      if (last && refusal) notes.push(`batch ${id} (seq ${last.header.seq}) was refused for its seq (seq-refusal ${refusal}) and has no receipt in this log (not sent again, or not yet)`);
      else problems.push({ code: 'ERR_EXCHANGE_UNPAIRED', id, message: `batch ${id} (seq ${attempts[0]!.header.seq}) has no receipt in this log` });
    } else {
      notes.push(`${type} ${id} has no ${ANSWERED_TYPES[type]} in this log (the hub did not answer it)`);
    }
  }
  return { problems, notes, paired };
}

/** Verifies every envelope of a log and their pairing. */
export async function verifyExchangeLog(log: ExchangeLog, trust: EvidenceTrust): Promise<ExchangeVerdict> {
  const problems: Problem[] = [];
  const byType: Record<string, number> = {};
  const self = log.head.node;
  for (const e of log.envelopes) {
    byType[e.header.type] = (byType[e.header.type] ?? 0) + 1;
    const mine = e.direction === 'sent' ? e.header.from : e.header.to;
    if (mine !== self) {
      problems.push({ code: 'ERR_EXCHANGE_LOG_MALFORMED', id: e.header.id, line: e.line, message: `line ${e.line}: a ${e.direction} envelope of ${self}'s log is ${e.direction === 'sent' ? 'from' : 'to'} ${mine}` });
    }
    for (const p of await checkEvidence(e, trust)) problems.push({ ...p, line: e.line });
  }
  const pairs = pairingProblems(log.envelopes);
  problems.push(...pairs.problems);
  return { node: self, role: log.head.role, envelopes: log.envelopes.length, byType, paired: pairs.paired, problems, notes: pairs.notes };
}
