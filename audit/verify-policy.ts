/**
 * What `credit audit verify` requires beyond an intact chain under signed checkpoints (issue 16),
 * so that one key alone cannot make a rewritten log verify:
 * - the bundle is the log of the expected node (`node`) → else ERR_AUDIT_UNTRUSTED_SIGNER;
 * - its latest checkpoint carries a trusted witness cosignature (the hub's for a node's log, a
 *   node's for the hub's log) → else ERR_AUDIT_UNWITNESSED (`requireWitness`);
 * - the witness's own records of the heads it cosigned (`witnessed`, from
 *   `credit audit witness-export`) agree with the bundle: another root at a witnessed size (a
 *   fresh or rewritten chain) → ERR_AUDIT_INCONSISTENT; a bundle ending before a witnessed size →
 *   ERR_AUDIT_TRUNCATED;
 * - no checkpoint or cosignature was made after its certificate's revocation (`revocations`, from
 *   a CRL) → ERR_AUDIT_REVOKED_SIGNER. A checkpoint's time is that of its earliest trusted
 *   cosignature (the witness's clock), its own `time` only when no witness cosigned it; for
 *   keyCompromise a checkpoint not cosigned before the compromise time fails whatever it says.
 * - witness resets (`witnessBreaks`, hub-signed records from the same witness export, see
 *   witness-reset.ts): the heads a reset abandoned no longer have to match the bundle, the heads it
 *   kept (`from`) and cosigned (`to`) must; each break of the bundle's node is reported
 *   (VerifyReport.witnessBreaks, and a line per break in the summary), never passed silently.
 * Pure: the verifier (verify-bundle.ts) calls these with what it has read.
 */
import type { WitnessReset } from './witness-reset.js';
import { HUB_NODE_ID } from '../certs/issue.js';
import { auditError } from './errors.js';

export interface Revocation {
  /** Serial as certs/ prints it: upper-case hex, no leading 00 byte. */
  serial: string;
  revokedAt: Date;
  /** RFC 5280 reason name (keyCompromise, superseded, cessationOfOperation …), when the CRL gives one. */
  reason?: string | undefined;
}

/** A tree head a witness cosigned, as its own records hold it. */
export interface WitnessedHead {
  nodeId: string;
  treeSize: number;
  rootHash: string;
  /** An archived head (`witness-archived` line): the witness epoch whose reset abandoned it. */
  abandonedIn?: number;
  /** Who cosigned it (the hub for a node's log, a node for the hub's); absent: the log's only witness. */
  witness?: string;
  /** The witness epoch its cosignature states (absent = 0). */
  epoch?: number;
}

export interface VerifyOptions {
  /** The node whose log the bundle must be (its header and checkpoints). */
  node?: string;
  /** Fail ERR_AUDIT_UNWITNESSED when the latest checkpoint has no witness cosignature (the CLI's default). */
  requireWitness?: boolean;
  /** The witness's records to cross-check (only those of the bundle's node are used). */
  witnessed?: readonly WitnessedHead[];
  /** Witness resets (verified against the CA by the caller); only those of the bundle's node are used. */
  witnessBreaks?: readonly WitnessBreak[];
  /** Revocations from a CRL the caller has checked against the CA. */
  revocations?: readonly Revocation[];
}

/** A witness reset as the verifier reports it (the signed record without its signature fields). */
export type WitnessBreak = Omit<WitnessReset, 'type' | 'signature' | 'signerFingerprint' | 'certPem'>;

export function breakOf(r: WitnessReset): WitnessBreak {
  const { type: _t, signature: _s, signerFingerprint: _f, certPem: _c, ...b } = r;
  return b;
}

/**
 * The tree size → root map a bundle of `nodeId` must agree with: each witness's heads, less those a
 * reset *by that witness* abandoned (same size and root), plus each of its resets' kept and cosigned
 * heads unless a later reset of its abandoned them. One witness's reset record never excuses another
 * witness's heads (one node's record of a hub rollback says nothing of what another node cosigned).
 * Two heads that remain at one tree size with different roots → ERR_AUDIT_INCONSISTENT: the log
 * showed two witnesses (or one) two different histories.
 */
export function witnessedRoots(nodeId: string, heads: readonly WitnessedHead[], breaks: readonly WitnessBreak[]): Map<number, string> {
  const single = nodeId === HUB_NODE_ID ? null : HUB_NODE_ID; // a node's log has one witness: the hub
  const witnessOf = (x: { witness?: string | undefined }) => single ?? x.witness ?? '';
  const mine = breaks.filter((b) => b.nodeId === nodeId);
  const abandoned = new Set(mine.flatMap((b) => b.abandoned.map((a) => `${witnessOf(b)}/${a.treeSize}:${a.rootHash}`)));
  const out = new Map<number, { root: string; by: string }>();
  const add = (h: { treeSize: number; rootHash: string }, by: string) => {
    if (abandoned.has(`${by}/${h.treeSize}:${h.rootHash}`)) return;
    const had = out.get(h.treeSize);
    if (had && had.root !== h.rootHash) {
      throw auditError('ERR_AUDIT_INCONSISTENT', `the witness records disagree at tree size ${h.treeSize} of ${nodeId === HUB_NODE_ID ? "the hub's log" : `node ${nodeId}'s log`}: ${had.by || 'a witness'} cosigned root ${had.root}, ${by || 'a witness'} root ${h.rootHash} (a fork shown to different witnesses, or a reset record that does not account for it)`, { treeSize: h.treeSize });
    }
    out.set(h.treeSize, { root: h.rootHash, by });
  };
  for (const b of mine) {
    if (b.from) add(b.from, witnessOf(b));
    add(b.to, witnessOf(b));
  }
  for (const h of heads) if (h.nodeId === nodeId && h.abandonedIn === undefined) add(h, witnessOf(h));
  return new Map([...out].map(([size, v]) => [size, v.root]));
}

/**
 * Why the witness resets of log `nodeId` do not account for the witness epochs the bundle's
 * cosignatures state (`epochs`: witness → the largest epoch its cosignatures in the bundle state), or
 * null: per witness, the witness file must hold its reset records of the log 1..M, contiguous, one
 * record per epoch, with M ≥ the stated epoch, and each archived head must be among the heads its
 * epoch's record abandoned (a dropped reset record, or a deleted epochs row, leaves a gap) →
 * ERR_AUDIT_RESET_MISSING. A node's log has one witness, the hub (checked even when the file holds
 * nothing of the node); the hub's log has one per node, and only the witnesses the file speaks for
 * (their heads or resets) are checked: one node's file says nothing of another node's resets.
 */
export function epochGap(nodeId: string, epochs: ReadonlyMap<string, number>, breaks: readonly WitnessBreak[], heads: readonly WitnessedHead[] = []): string | null {
  const mine = breaks.filter((b) => b.nodeId === nodeId);
  const myHeads = heads.filter((h) => h.nodeId === nodeId);
  const witnesses = nodeId === HUB_NODE_ID ? new Set([...mine.map((b) => b.witness), ...myHeads.flatMap((h) => (h.witness ? [h.witness] : []))]) : new Set([HUB_NODE_ID]);
  for (const w of [...witnesses].sort()) {
    const theirs = myHeads.filter((h) => h.witness === undefined || h.witness === w);
    // the epoch the witness's own live cosignatures state counts too: a bundle that leaves out that
    // witness's cosignature lines does not hide its resets
    const stated = Math.max(epochs.get(w) ?? 0, ...theirs.filter((h) => h.abandonedIn === undefined).map((h) => h.epoch ?? 0));
    const why = witnessEpochGap(nodeId, w, stated, mine.filter((b) => b.witness === w), theirs);
    if (why) return why;
  }
  return null;
}

/** epochGap for one witness of the log (`mine`: that witness's resets of it; `heads`: its heads of it). */
function witnessEpochGap(nodeId: string, witness: string, epoch: number, mine: readonly WitnessBreak[], heads: readonly WitnessedHead[]): string | null {
  const whose = nodeId === HUB_NODE_ID ? `node ${witness}'s reset record(s) of the hub's log` : `node ${nodeId}'s reset record(s)`;
  for (const h of heads) {
    if (h.abandonedIn === undefined) continue;
    const b = mine.find((x) => x.epoch === h.abandonedIn);
    if (!b) return `the witness file holds ${nodeId === HUB_NODE_ID ? 'the hub' : `node ${nodeId}`}'s head at tree size ${h.treeSize} archived in epoch ${h.abandonedIn}, but not that epoch's reset record: a witness reset was left out of the export`;
    if (!b.abandoned.some((a) => a.treeSize === h.treeSize && a.rootHash === h.rootHash)) return `the head at tree size ${h.treeSize} archived in epoch ${h.abandonedIn} is not among the heads that epoch's reset abandoned`;
  }
  const seen = new Map<number, string>();
  for (const b of mine) {
    const key = JSON.stringify(b);
    if (seen.has(b.epoch) && seen.get(b.epoch) !== key) return `the witness file holds two different reset records of ${nodeId === HUB_NODE_ID ? `the hub's log by node ${witness}` : `node ${nodeId}`} for epoch ${b.epoch}`;
    seen.set(b.epoch, key);
  }
  const top = Math.max(epoch, 0, ...seen.keys());
  const gaps: number[] = [];
  let missing = 0;
  for (let e = 1; e <= top; e++) {
    if (seen.has(e)) continue;
    missing++;
    if (gaps.length < 10) gaps.push(e);
  }
  if (missing === 0) return null;
  const why = epoch > 0 ? `the bundle's ${nodeId === HUB_NODE_ID ? `cosignatures by node ${witness}` : 'hub cosignatures'} state witness epoch ${epoch}` : `the witness file holds reset records up to epoch ${top}`;
  return `${why}, but the witness file lacks ${whose} for epoch ${gaps.join(', ')}${missing > gaps.length ? ` … (${missing} epochs in all)` : ''}: a witness reset was left out of the export (or its record deleted at the ${nodeId === HUB_NODE_ID ? 'node' : 'hub'})`;
}

/** One line per break for `credit audit verify`. */
export function breakLine(b: WitnessBreak): string {
  const first = b.abandoned[0]?.treeSize;
  const last = b.abandoned.at(-1)?.treeSize;
  const what = b.nodeId === HUB_NODE_ID
    ? `WITNESS BREAK hub log, witness node ${b.witness} epoch ${b.epoch}: at ${b.resetAt} node ${b.witness} accepted a reset after the hub's log went back to ${b.backupCreatedAt}`
    : `WITNESS BREAK node ${b.nodeId} epoch ${b.epoch}: at ${b.resetAt} the hub accepted a reset after a restore from the backup of ${b.backupCreatedAt}`;
  return `${what}; ` +
    `kept the heads up to tree size ${b.from?.treeSize ?? 0}, abandoned ${b.abandoned.length} head(s) it had cosigned (tree sizes ${first}..${last}), cosigned the restored log at tree size ${b.to.treeSize}; ` +
    `armed by ${b.armedBy} at ${b.armedAt}, reason: ${JSON.stringify(b.reason)}`;
}

export function revocationOf(revocations: readonly Revocation[] | undefined, serial: string): Revocation | undefined {
  return revocations?.find((r) => r.serial === serial);
}

const describe = (r: Revocation) => `revoked at ${r.revokedAt.toISOString()}${r.reason ? ` (${r.reason})` : ''}`;

/**
 * Why a checkpoint signed with the revoked certificate `r` is refused, or null. `firstCosignedAt`
 * is the earliest trusted cosignature of that checkpoint (null when none).
 */
export function checkpointRevocationProblem(r: Revocation, cpTime: string, firstCosignedAt: string | null, treeSize: number): string | null {
  const at = r.revokedAt.getTime();
  if (r.reason === 'keyCompromise') {
    if (firstCosignedAt === null) return `the checkpoint at tree size ${treeSize} is signed with a certificate ${describe(r)} and no witness cosigned it, so nothing shows it was made before the compromise`;
    if (Date.parse(firstCosignedAt) >= at) return `the checkpoint at tree size ${treeSize} was first cosigned at ${firstCosignedAt}, after its signer certificate was ${describe(r)}`;
    return null;
  }
  const when = firstCosignedAt ?? cpTime;
  if (Date.parse(when) < at) return null;
  const source = firstCosignedAt ? 'the witness cosigned it' : 'its own time: no witness cosigned it';
  return `the checkpoint at tree size ${treeSize} was made by ${when} (${source}), after its signer certificate was ${describe(r)}`;
}

/** Why a cosignature made at `cosignedAt` with the revoked certificate `r` is refused, or null. */
export function cosignatureRevocationProblem(r: Revocation, cosignedAt: string, treeSize: number, witness: string): string | null {
  if (Date.parse(cosignedAt) < r.revokedAt.getTime()) return null;
  return `the cosignature by ${witness} at tree size ${treeSize} was made at ${cosignedAt}, after the witness certificate was ${describe(r)}`;
}
