/**
 * Protocol versions and negotiation. `v` is MAJOR.MINOR. A receiver accepts every minor of a
 * major it speaks (minors only add optional header fields, which are ignored but still signed);
 * an unknown major is refused with ERR_PROTOCOL_VERSION and `details.supported`.
 */
import { protocolError } from './errors.js';
import { getSuite, usableSuites } from './suites.js';

/**
 * The version this implementation writes. 1.1 (issue 15): batches may carry `versions`
 * (corrections), receipts `versioned`, records a `version` number; the envelope types `notice`,
 * `notice-receipt` and `notice-feed` (protocol/notices.ts) carry objections and their results.
 * 1.2: the hub signs its refusal of a batch for its seq (envelope type `seq-refusal`, sent in
 * `details.refusal` of ERR_SEQUENCE_GAP and ERR_OUT_OF_ORDER; protocol/exchange.ts SeqRefusalPayload).
 * 1.3: hub-log witness resets (docs/audit-format.md §10b): GET /v1/checkpoints/latest?hubFrom=N (the
 * hub's checkpoint with a consistency proof from tree size N) and `epoch` in a checkpoint's
 * `hubCosignature` (the node's count of hub-log resets).
 */
export const PROTOCOL_VERSION = '1.3';
/** Every version this implementation reads (one entry per major: the highest minor it knows). */
export const SUPPORTED_VERSIONS: readonly string[] = Object.freeze([PROTOCOL_VERSION]);

const VERSION_RE = /^(0|[1-9]\d{0,3})\.(0|[1-9]\d{0,3})$/;

export interface Version {
  major: number;
  minor: number;
}

/** `"1.2"` → `{ major: 1, minor: 2 }`; null when it is not MAJOR.MINOR (no leading zeros, ≤ 4 digits). */
export function parseVersion(v: unknown): Version | null {
  if (typeof v !== 'string') return null;
  const m = VERSION_RE.exec(v);
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : null;
}

/** True when `v` is well formed and its major is one this side speaks. */
export function isSupportedVersion(v: unknown, supported: readonly string[] = SUPPORTED_VERSIONS): boolean {
  const p = parseVersion(v);
  return p !== null && supported.some((s) => parseVersion(s)?.major === p.major);
}

/** Throws ERR_PROTOCOL_VERSION (with `details.supported`) unless `v`'s major is spoken here. A malformed `v` is left to the schema check. */
export function checkVersion(v: unknown, supported: readonly string[] = SUPPORTED_VERSIONS): void {
  if (parseVersion(v) === null || isSupportedVersion(v, supported)) return;
  throw protocolError('ERR_PROTOCOL_VERSION', `protocol version ${String(v)} is not spoken here (supported: ${supported.join(', ')})`, {
    got: v,
    supported: [...supported],
  });
}

export interface Capabilities {
  /** Versions spoken, MAJOR.MINOR; a version implies every lower minor of its major. */
  versions: readonly string[];
  /** Suite names, most preferred first. */
  suites: readonly string[];
}

/** What this implementation offers in negotiation: only the suites `policy` admits (no downgrade below it). */
export function localCapabilities(policy?: readonly string[]): Capabilities {
  return { versions: [...SUPPORTED_VERSIONS], suites: usableSuites(policy) };
}

function highestMinors(versions: readonly string[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const v of versions) {
    const p = parseVersion(v);
    if (p && (out.get(p.major) ?? -1) < p.minor) out.set(p.major, p.minor);
  }
  return out;
}

/**
 * Picks the highest version both sides speak (highest common major; within it the lower of the two
 * highest minors) and the first of `mine.suites` that `theirs` also lists and this implementation
 * can use. Throws ERR_PROTOCOL_VERSION (`details.supported` = mine) or ERR_UNKNOWN_SUITE.
 */
export function negotiate(mine: Capabilities, theirs: Capabilities): { version: string; suite: string } {
  const a = highestMinors(mine.versions);
  const b = highestMinors(theirs.versions);
  const common = [...a.keys()].filter((m) => b.has(m)).sort((x, y) => y - x);
  const major = common[0];
  if (major === undefined) {
    throw protocolError('ERR_PROTOCOL_VERSION', 'no protocol version in common', { supported: [...mine.versions], theirs: [...theirs.versions] });
  }
  const version = `${major}.${Math.min(a.get(major)!, b.get(major)!)}`;
  const suite = mine.suites.find((s) => theirs.suites.includes(s) && isUsable(s));
  if (suite === undefined) {
    throw protocolError('ERR_UNKNOWN_SUITE', 'no usable cipher suite in common', { mine: [...mine.suites], theirs: [...theirs.suites], usable: usableSuites() });
  }
  return { version, suite };
}

function isUsable(name: string): boolean {
  try {
    getSuite(name);
    return true;
  } catch {
    return false;
  }
}
