/**
 * Witness reset records (docs/audit-format.md §10a, §10b). When a node is restored from an
 * older backup its audit log no longer extends the head the hub last cosigned; the hub then refuses
 * it for ever (witness.ts ERR_AUDIT_INCONSISTENT) unless its operator armed a one-shot reset for
 * that node. The hub accepts the reset only with a consistency proof from the largest head it
 * cosigned before the backup was made, and signs this record of the break: which heads it keeps
 * (`from`), which it abandons (the epoch cosigned after `from`, archived), the restored head it
 * cosigned (`to`), and the operator's reason and time. `credit audit witness-export` writes these
 * records beside the cosignatures and `credit audit verify --witness` reports each break.
 *
 * The same record, signed by a node, marks the other direction (§10b): the hub's log rolled back (its
 * store restored from a backup, or a failover to a standby that had not received its last commits), so
 * it no longer extends the heads that node cosigned; the node's operator armed a one-shot reset
 * (`credit node witness reset-arm`), the node took the hub's log from the largest head it cosigned
 * before the stated restore point and signed this record (nodeId 430000, witness = the node).
 *
 * Signed text: canonical JSON (RFC 8785) of every field except signature, signerFingerprint and
 * certPem, with `type` replaced by 'credit-audit-witness-reset/1'; signed by the witness key (the
 * hub's, CN 430000, for a node's log; the node's for the hub's log, cosign.ts witnessRule) like a
 * cosignature (crypto.ts signText). Pure apart from the crypto calls.
 */
import { canonicalize } from '../protocol/canonical-json.js';
import { certFacts, chainProblem, keyFitsCert, signText, splitPemCerts, verifyText, type CertFacts } from './crypto.js';
import { MAX_EPOCH, witnessRule } from './cosign.js';
import { auditError } from './errors.js';

export const WITNESS_RESET_TEXT_TYPE = 'credit-audit-witness-reset/1';

export interface ResetHead {
  treeSize: number;
  rootHash: string;
}

export interface WitnessReset {
  type: 'witness-reset';
  /** The log that was reset: a node's (witness 430000), or the hub's, 430000 (witness a node). */
  nodeId: string;
  /** 1 for the first reset of this log by this witness, 2 for the next … */
  epoch: number;
  /** The point the log was restored to: a node's backup createdAt as the node stated it; for the hub's log, as its operator armed it. */
  backupCreatedAt: string;
  /** The largest head the witness cosigned before backupCreatedAt, still part of the log; null when none. */
  from: ResetHead | null;
  /** The restored log's head the witness cosigned with the reset (consistent with `from`). */
  to: ResetHead;
  /** The heads the witness had cosigned after `from`: no longer part of the log (the abandoned epoch). */
  abandoned: (ResetHead & { cosignedAt: string })[];
  /** The operator's reason given when arming. */
  reason: string;
  /** Who armed it (`cli:<user>@<host>`) and when (the witness's time). */
  armedBy: string;
  armedAt: string;
  /** When the witness accepted the reset (its time). */
  resetAt: string;
  /** Who signs: the hub (430000) for a node's log, the node for the hub's log. */
  witness: string;
  /** Base64 signature by the witness key over resetText(). */
  signature: string;
  /** SHA-256 of the witness certificate's DER, lower-case hex. */
  signerFingerprint: string;
  certPem: string;
}

export type WitnessResetBody = Omit<WitnessReset, 'type' | 'witness' | 'signature' | 'signerFingerprint' | 'certPem'>;

/** The text the hub signs. */
export function resetText(r: WitnessResetBody & { witness: string }): string {
  return canonicalize({
    type: WITNESS_RESET_TEXT_TYPE, nodeId: r.nodeId, epoch: r.epoch, backupCreatedAt: r.backupCreatedAt,
    from: r.from ? { treeSize: r.from.treeSize, rootHash: r.from.rootHash } : null,
    to: { treeSize: r.to.treeSize, rootHash: r.to.rootHash },
    abandoned: r.abandoned.map((a) => ({ treeSize: a.treeSize, rootHash: a.rootHash, cosignedAt: a.cosignedAt })),
    reason: r.reason, armedBy: r.armedBy, armedAt: r.armedAt, resetAt: r.resetAt, witness: r.witness,
  });
}

/**
 * The witness signs the record of a reset it accepted: the hub for a node's log, a node for the hub's.
 * ERR_AUDIT_SIGNER_INVALID: the key does not belong to the certificate, or its CN may not witness that log.
 */
export function signReset(body: WitnessResetBody, witness: { keyPem: string; certPem: string }): WitnessReset {
  const cert = certFacts(witness.certPem);
  const rule = witnessRule(body.nodeId, cert.cn);
  if (rule) throw auditError('ERR_AUDIT_SIGNER_INVALID', `a witness reset is signed by the log's witness: ${rule}`);
  if (!keyFitsCert(witness.keyPem, witness.certPem)) throw auditError('ERR_AUDIT_SIGNER_INVALID', 'the witness signing key does not belong to its certificate');
  const signed = { ...body, witness: cert.cn };
  return { type: 'witness-reset', ...signed, signature: signText(witness.keyPem, resetText(signed)), signerFingerprint: cert.fingerprint, certPem: cert.pem };
}

const HEX64 = /^[0-9a-f]{64}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const NODE = /^[1-9]\d{5}$/;
const KEYS = ['type', 'nodeId', 'epoch', 'backupCreatedAt', 'from', 'to', 'abandoned', 'reason', 'armedBy', 'armedAt', 'resetAt', 'witness', 'signature', 'signerFingerprint', 'certPem'];

function isHead(h: unknown, withTime = false): h is ResetHead {
  const x = h as Record<string, unknown>;
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  if (Object.keys(x).length !== (withTime ? 3 : 2)) return false;
  return Number.isSafeInteger(x.treeSize) && (x.treeSize as number) >= 1 && typeof x.rootHash === 'string' && HEX64.test(x.rootHash) && (!withTime || (typeof x.cosignedAt === 'string' && ISO.test(x.cosignedAt)));
}

/** Why `o` is not a witness reset record, or null. */
export function resetShapeProblem(o: Record<string, unknown>): string | null {
  if (Object.keys(o).length !== KEYS.length || !KEYS.every((k) => Object.hasOwn(o, k))) return 'its fields are not those of a witness reset';
  if (o.type !== 'witness-reset') return 'type is not "witness-reset"';
  if (typeof o.nodeId !== 'string' || !NODE.test(o.nodeId)) return 'nodeId is not a node id';
  if (!Number.isSafeInteger(o.epoch) || (o.epoch as number) < 1 || (o.epoch as number) > MAX_EPOCH) return `epoch is not a whole number from 1 to ${MAX_EPOCH}`;
  for (const k of ['backupCreatedAt', 'armedAt', 'resetAt'] as const) if (typeof o[k] !== 'string' || !ISO.test(o[k] as string)) return `${k} is not a UTC ISO time with milliseconds`;
  if (o.from !== null && !isHead(o.from)) return 'from is not a tree head or null';
  if (!isHead(o.to)) return 'to is not a tree head';
  if (!Array.isArray(o.abandoned) || !o.abandoned.every((a) => isHead(a, true))) return 'abandoned is not a list of cosigned tree heads';
  if (typeof o.reason !== 'string' || o.reason.length === 0 || typeof o.armedBy !== 'string') return 'reason or armedBy is not a string';
  if (typeof o.witness !== 'string' || !NODE.test(o.witness)) return 'witness is not a node id';
  const rule = witnessRule(o.nodeId, o.witness);
  if (rule) return `witness ${o.witness} may not reset log ${o.nodeId}: ${rule}`;
  if (typeof o.signature !== 'string' || typeof o.signerFingerprint !== 'string' || !HEX64.test(o.signerFingerprint) || typeof o.certPem !== 'string') return 'signature, signerFingerprint or certPem is missing';
  const from = (o.from as ResetHead | null)?.treeSize ?? 0;
  if ((o.abandoned as ResetHead[]).some((a) => a.treeSize <= from)) return 'an abandoned head is not after `from`';
  if ((o.to as ResetHead).treeSize < from) return '`to` is smaller than `from`';
  return null;
}

/**
 * Checks a reset record: its shape (a witness allowed for the log, witnessRule), the witness
 * certificate (its CN the record's witness, chaining to `caPems`, valid at resetAt) → else
 * ERR_AUDIT_UNTRUSTED_SIGNER, and the signature → else ERR_AUDIT_COSIGNATURE.
 */
export function verifyReset(r: WitnessReset, caPems: readonly string[]): void {
  const shape = typeof r === 'object' && r !== null ? resetShapeProblem(r as unknown as Record<string, unknown>) : 'not an object';
  if (shape) throw auditError('ERR_AUDIT_COSIGNATURE', `not a witness reset: ${shape}`);
  let cert: CertFacts;
  let anchors: CertFacts[];
  try {
    cert = certFacts(r.certPem);
    anchors = caPems.flatMap(splitPemCerts).map(certFacts);
  } catch {
    throw auditError('ERR_AUDIT_UNTRUSTED_SIGNER', 'the witness reset certificate (or the CA certificate) is not a readable PEM certificate');
  }
  if (cert.fingerprint !== r.signerFingerprint) throw auditError('ERR_AUDIT_COSIGNATURE', `the witness reset of node ${r.nodeId} names certificate sha256:${r.signerFingerprint} but carries another one`);
  if (cert.cn !== r.witness) throw auditError('ERR_AUDIT_UNTRUSTED_SIGNER', `the witness reset of log ${r.nodeId} is signed by "${cert.cn}", not by its witness ${r.witness}`);
  const problem = chainProblem(cert, [], anchors, new Date(r.resetAt));
  if (problem) throw auditError('ERR_AUDIT_UNTRUSTED_SIGNER', `the witness reset of node ${r.nodeId}: ${problem}`);
  if (!verifyText(cert.pem, resetText(r), r.signature)) throw auditError('ERR_AUDIT_COSIGNATURE', `the signature of the witness reset of node ${r.nodeId} (epoch ${r.epoch}) does not verify with the witness certificate`);
}
