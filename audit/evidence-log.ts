/**
 * The exchange log as an auditor receives it: NDJSON, one canonical JSON object (RFC 8785) per
 * line, "\n" after each. First a `head` line naming the store's node, its role and the count,
 * then one `envelope` line per kept envelope, in recording order. Byte by byte in
 * docs/exchange-log.md. toExchangeNdjson() writes it; readExchangeLog() reads it back, collecting
 * every bad line (ERR_EXCHANGE_LOG_MALFORMED) instead of stopping at the first.
 */
import { canonicalize } from '../protocol/canonical-json.js';
import { assertHeader, isCanonicalBase64url, type EnvelopeHeader } from '../protocol/envelope.js';
import { isCreditError } from '../protocol/errors.js';
import type { EnvelopeEvidence } from './evidence-record.js';

export const EXCHANGE_LOG_FORMAT = 'credit-exchange-log/1';

export interface ExchangeLogHead {
  kind: 'head';
  format: typeof EXCHANGE_LOG_FORMAT;
  /** The node whose store this is (the hub: 430000). */
  node: string;
  role: 'node' | 'hub';
  exportedAt: string;
  /** The recording-time range asked for (null: open). */
  from: string | null;
  to: string | null;
  /** Number of envelope lines that follow. */
  envelopes: number;
}

export type ExchangeLogLine = EnvelopeEvidence & { kind: 'envelope' };

export interface ExchangeLog {
  head: ExchangeLogHead;
  envelopes: (EnvelopeEvidence & { line: number })[];
}

export interface Problem {
  code: string;
  /** The envelope (or answer) the problem is about, when there is one. */
  id?: string;
  line?: number;
  message: string;
}

export function toExchangeNdjson(head: Omit<ExchangeLogHead, 'kind' | 'format' | 'envelopes'>, list: readonly EnvelopeEvidence[]): string {
  const lines = [canonicalize({ kind: 'head', format: EXCHANGE_LOG_FORMAT, ...head, envelopes: list.length })];
  for (const e of list) lines.push(canonicalize({ kind: 'envelope', direction: e.direction, recordedAt: e.recordedAt, header: e.header, digest: e.digest, sig: e.sig }));
  return lines.join('\n') + '\n';
}

const DIGEST = /^[A-Za-z0-9_-]{43}$/;
const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks one envelope line; returns its evidence or a reason. */
export function envelopeLine(v: unknown): EnvelopeEvidence | string {
  if (!isObject(v) || v.kind !== 'envelope') return 'is not an envelope line';
  const keys = Object.keys(v).sort().join(',');
  if (keys !== 'digest,direction,header,kind,recordedAt,sig') return `has the members ${keys}, not digest,direction,header,kind,recordedAt,sig`;
  if (v.direction !== 'sent' && v.direction !== 'received') return 'direction must be "sent" or "received"';
  if (typeof v.recordedAt !== 'string' || !TIME.test(v.recordedAt)) return 'recordedAt must be UTC ISO 8601 with milliseconds';
  if (typeof v.digest !== 'string' || !DIGEST.test(v.digest) || !isCanonicalBase64url(v.digest)) return 'digest must be 43 characters of base64url (SHA-256)';
  const sig = v.sig;
  if (!isObject(sig) || Object.keys(sig).sort().join(',') !== 'protected,signature' || typeof sig.protected !== 'string' || typeof sig.signature !== 'string') {
    return 'sig must be { protected, signature }';
  }
  if (!isCanonicalBase64url(sig.protected) || !isCanonicalBase64url(sig.signature)) return 'sig.protected and sig.signature must be canonical base64url';
  let header: EnvelopeHeader;
  try {
    header = assertHeader(v.header);
  } catch (e) {
    return isCreditError(e) ? e.message : 'header is not an envelope header';
  }
  return { direction: v.direction, recordedAt: v.recordedAt, header, digest: v.digest, sig: { protected: sig.protected, signature: sig.signature } };
}

function headLine(v: unknown): ExchangeLogHead | string {
  if (!isObject(v) || v.kind !== 'head') return 'the first line is not the head line';
  if (v.format !== EXCHANGE_LOG_FORMAT) return `format must be "${EXCHANGE_LOG_FORMAT}"`;
  if (typeof v.node !== 'string' || !/^\d{6}$/.test(v.node)) return 'node must be a 6-digit node id';
  if (v.role !== 'node' && v.role !== 'hub') return 'role must be "node" or "hub"';
  if (!Number.isSafeInteger(v.envelopes) || (v.envelopes as number) < 0) return 'envelopes must be a count';
  for (const k of ['from', 'to'] as const) if (v[k] !== null && typeof v[k] !== 'string') return `${k} must be a time or null`;
  if (typeof v.exportedAt !== 'string') return 'exportedAt must be a time';
  return v as unknown as ExchangeLogHead;
}

/** Reads an exchange log; malformed lines are reported (and left out), the rest returned. */
export function readExchangeLog(text: string): { log: ExchangeLog | null; problems: Problem[] } {
  const problems: Problem[] = [];
  const bad = (line: number, message: string, id?: string) => problems.push({ code: 'ERR_EXCHANGE_LOG_MALFORMED', line, message: `line ${line}: ${message}`, ...(id ? { id } : {}) });
  if (text.length > 0 && !text.endsWith('\n')) bad(text.split('\n').length, 'the last line has no "\\n": the file is cut short');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const parsed = lines.map((l, i) => {
    try {
      const v = JSON.parse(l) as unknown;
      if (canonicalize(v) !== l) bad(i + 1, 'is not canonical JSON (RFC 8785): it was rewritten');
      return v;
    } catch {
      bad(i + 1, 'is not JSON');
      return undefined;
    }
  });
  const head = headLine(parsed[0]);
  if (typeof head === 'string') {
    bad(1, head);
    return { log: null, problems };
  }
  const envelopes: ExchangeLog['envelopes'] = [];
  const seen = new Set<string>();
  for (let i = 1; i < parsed.length; i++) {
    if (parsed[i] === undefined) continue;
    const e = envelopeLine(parsed[i]);
    if (typeof e === 'string') {
      bad(i + 1, e);
      continue;
    }
    const key = `${e.header.id} ${e.digest}`;
    if (seen.has(key)) bad(i + 1, `envelope ${e.header.id} with this digest appears twice`, e.header.id);
    seen.add(key);
    envelopes.push({ ...e, line: i + 1 });
  }
  if (lines.length - 1 !== head.envelopes) bad(lines.length, `the head declares ${head.envelopes} envelope line(s), the file has ${lines.length - 1}`);
  return { log: { head, envelopes }, problems };
}
