/**
 * The evidence package of one envelope (`credit audit evidence`): one file an auditor can take
 * away and check with only the CA certificate. Each side of the exchange (the node and the hub)
 * produces its own signed half from its own store:
 *   - the evidence it kept of the envelope (each attempt) and of its answer (audit/evidence-record.ts),
 *   - inclusion proofs (RFC 9162) of its audit entries that name the envelope, against a signed
 *     checkpoint — the smallest tree size its witness cosigned when there is one — and those cosignatures,
 *   - its signer certificate and the CA certificate (the chain) and the newest CRL it holds.
 * The half is signed by the side's key over its canonical JSON. The package is
 *   { format, envelopeId, halves: [{ half, signature, signerCertPem }, …] }
 * written as canonical JSON (RFC 8785) + "\n", so any byte changed either breaks the canonical form
 * or a signature. Byte by byte in docs/exchange-log.md; verified by evidence-package-verify.ts.
 */
import type { Knex } from 'knex';
import { canonicalize } from '../protocol/canonical-json.js';
import { certFromPem } from '../protocol/crypto.js';
import { cosignaturesBetween } from './cosign-store.js';
import type { Cosignature } from './cosign.js';
import { signText } from './crypto.js';
import type { AuditEntry } from './entry.js';
import { evidenceError } from './evidence-errors.js';
import type { EnvelopeEvidence } from './evidence-record.js';
import { evidenceStore, type EvidenceTable } from './evidence-store.js';
import { openAuditLog } from './log.js';
import { proveInclusion, type InclusionProof } from './proofs.js';
import { latestCheckpoint } from './store.js';

export const EVIDENCE_PACKAGE_FORMAT = 'credit-evidence/1';
export const EVIDENCE_HALF_FORMAT = 'credit-evidence-half/1';

export interface EvidenceHalf {
  format: typeof EVIDENCE_HALF_FORMAT;
  /** The side that produced this half (its node id; the hub: 430000). */
  side: string;
  role: 'node' | 'hub';
  envelopeId: string;
  producedAt: string;
  /** This side's evidence of the envelope (every attempt it kept) and of the answers naming it. */
  exchange: Omit<EnvelopeEvidence, never>[];
  /** Inclusion proofs of this side's audit entries naming the envelope, each with its signed checkpoint. */
  proofs: InclusionProof[];
  /** The witness's cosignatures of the checkpoints the proofs are made against (none when not yet witnessed). */
  cosignatures: Cosignature[];
  /** The side's signer certificate, then the CA certificate: PEM. */
  chain: string[];
  /** The newest CRL this side holds (PEM), or null. */
  crl: string | null;
}

export interface SignedHalf {
  half: EvidenceHalf;
  /** Base64 signature by the side's key over canonicalize(half) (RSA PKCS#1 v1.5 SHA-256, or ECDSA P-256 SHA-256). */
  signature: string;
  /** The side's certificate, PEM exactly as certFromPem writes it. */
  signerCertPem: string;
}

export interface EvidencePackage {
  format: typeof EVIDENCE_PACKAGE_FORMAT;
  envelopeId: string;
  halves: SignedHalf[];
}

export interface SideOfStore {
  role: 'node' | 'hub';
  nodeId: string;
  db: Knex;
  table: EvidenceTable;
  signer: { keyPem: string; certPem: string };
  caCertPem: string;
  crlPem: string | null;
}

/** Audit entries naming any of `ids` in their object or reason, in sequence order. */
async function entriesNaming(db: Knex, ids: readonly string[]): Promise<AuditEntry[]> {
  const rows = (await db('audit_log').select('seq').where((w) => {
    for (const id of ids) w.orWhere('object', id).orWhere('reason', 'like', `%${id}%`);
  }).orderBy('seq')) as { seq: number | string }[];
  return rows.map((r) => ({ seq: Number(r.seq) }) as AuditEntry);
}

/** The tree size to prove `seq` in: the smallest cosigned one covering it, else the latest checkpoint (signed now when none covers it). */
async function treeSizeFor(side: SideOfStore, seq: number): Promise<{ size: number; cosignature?: Cosignature }> {
  const cos = await cosignaturesBetween(side.db, seq, Number.MAX_SAFE_INTEGER);
  if (cos.length > 0) return { size: cos[0]!.treeSize, cosignature: cos[0]! };
  let cp = await latestCheckpoint(side.db);
  if (!cp || cp.treeSize < seq) {
    const log = await openAuditLog(side.db, { signer: { nodeId: side.nodeId, ...side.signer }, checkpointIntervalMs: 0 });
    try {
      await log.checkpoint();
    } finally {
      await log.close();
    }
    cp = await latestCheckpoint(side.db);
  }
  return { size: cp!.treeSize };
}

/**
 * This side's signed half of the evidence of envelope `envelopeId`. ERR_EVIDENCE_NOT_FOUND when the
 * store kept none. `producedAt` is read from `clock` once the proofs are made: a checkpoint signed
 * for them is older than the half (the verifier holds the half to that, evidence-half-time.ts).
 */
export async function buildHalf(side: SideOfStore, envelopeId: string, clock: () => Date = () => new Date()): Promise<SignedHalf> {
  const exchange = await evidenceStore.about(side.db, side.table, envelopeId);
  if (!exchange.some((e) => e.header.id === envelopeId)) {
    throw evidenceError('ERR_EVIDENCE_NOT_FOUND', `the ${side.role} store of ${side.nodeId} kept no evidence of envelope ${envelopeId}`, { envelopeId });
  }
  const ids = [...new Set(exchange.map((e) => e.header.id))];
  const proofs: InclusionProof[] = [];
  const cosignatures = new Map<number, Cosignature>();
  for (const { seq } of await entriesNaming(side.db, ids)) {
    const { size, cosignature } = await treeSizeFor(side, seq);
    proofs.push(await proveInclusion(side.db, seq, size));
    if (cosignature) cosignatures.set(size, cosignature);
  }
  const signerCertPem = certFromPem(side.signer.certPem).pem;
  const half: EvidenceHalf = {
    format: EVIDENCE_HALF_FORMAT, side: side.nodeId, role: side.role, envelopeId, producedAt: clock().toISOString(),
    exchange, proofs, cosignatures: [...cosignatures.values()], chain: [signerCertPem, certFromPem(side.caCertPem).pem], crl: side.crlPem,
  };
  return { half, signature: signText(side.signer.keyPem, canonicalize(half)), signerCertPem };
}

/** A package of the halves given (this side's, and the other side's when it was obtained), as its file bytes. */
export function packageText(envelopeId: string, halves: readonly SignedHalf[]): string {
  const p: EvidencePackage = { format: EVIDENCE_PACKAGE_FORMAT, envelopeId, halves: [...halves].sort((a, b) => a.half.side.localeCompare(b.half.side)) };
  return canonicalize(p) + '\n';
}
