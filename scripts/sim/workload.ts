/**
 * The simulation's clients, two per node, through the node's own API as its service account: a
 * loader that imports the node's records in NDJSON chunks (each chunk goes to the outbox and on to
 * the hub in batches), and a querier that asks province-wide subject queries (node → hub → node)
 * about subjects any node has loaded so far. Both count answers by status; the querier times each.
 */
import { request } from 'undici';
import { randomUscc, seededRng } from '../../protocol/identifiers.js';
import { sampleRecord } from '../demo/sample-data.js';
import type { SimNode } from './province.js';

export interface Tally {
  loaded: number;
  /** Subjects loaded so far, province-wide (what the queriers ask about). */
  subjects: string[];
  queryMs: number[];
  statuses: Map<string, number>;
  errors5xx: number;
}

export function newTally(): Tally {
  return { loaded: 0, subjects: [], queryMs: [], statuses: new Map(), errors5xx: 0 };
}

/** A 5xx answer's code and transport cause (`details.cause`, e.g. UND_ERR_HEADERS_TIMEOUT), for the tally's key. */
function why(status: number, text: string): string {
  if (status < 500) return '';
  try {
    const b = JSON.parse(text) as { code?: unknown; details?: { cause?: unknown } };
    return ` ${String(b.code ?? '-')}${b.details?.cause === undefined ? '' : `/${String(b.details.cause)}`}`;
  } catch {
    return ' (not JSON)';
  }
}

export function count(t: Tally, what: string, status: number, text = ''): void {
  const key = `${what} ${status}${why(status, text)}`;
  t.statuses.set(key, (t.statuses.get(key) ?? 0) + 1);
  if (status >= 500) t.errors5xx++;
}

async function call(n: SimNode, method: 'GET' | 'POST', path: string, body?: string, type?: string): Promise<{ status: number; text: string }> {
  const res = await request(n.running.url + path, {
    method,
    headersTimeout: 0,
    bodyTimeout: 0,
    headers: { authorization: `Bearer ${n.token}`, ...(type ? { 'content-type': type } : {}) },
    ...(body === undefined ? {} : { body }),
  });
  return { status: res.statusCode, text: await res.body.text() };
}

/** Imports `records` public XK records (one subject each, of the node's division) in chunks; retries a chunk answered 5xx or 429. */
export async function loader(n: SimNode, records: number, chunk: number, t: Tally): Promise<void> {
  const rng = seededRng(Number(n.id));
  for (let i = 0; i < records; i += chunk) {
    const subjects: string[] = [];
    const lines: string[] = [];
    for (let j = i; j < Math.min(records, i + chunk); j++) {
      const uscc = randomUscc(rng, { division: n.id });
      subjects.push(uscc);
      lines.push(JSON.stringify(sampleRecord('XK', { nodeId: n.id, uscc, serial: j + 1 })));
    }
    for (;;) {
      const r = await call(n, 'POST', '/v1/records/import', lines.join('\n') + '\n', 'application/x-ndjson');
      count(t, 'import', r.status, r.text);
      if (r.status === 200) {
        const report = JSON.parse(r.text) as { accepted: number; rejected: number; duplicates: number };
        if (report.accepted !== lines.length) throw new Error(`node ${n.id}: import accepted ${report.accepted} of ${lines.length} (${r.text.slice(0, 300)})`);
        t.loaded += report.accepted;
        t.subjects.push(...subjects);
        break;
      }
      if (r.status < 500 && r.status !== 429) throw new Error(`node ${n.id}: import answered ${r.status} ${r.text.slice(0, 300)}`);
    }
  }
}

/** `queries` province-wide subject queries, one after another, until `done()` or the count is reached. */
export async function querier(n: SimNode, queries: number, t: Tally, own: () => string): Promise<void> {
  const rng = seededRng(Number(n.id) + 1);
  const purpose = encodeURIComponent('省级模拟查询');
  for (let i = 0; i < queries; i++) {
    const code = t.subjects.length ? t.subjects[Math.floor(rng() * t.subjects.length)]! : own();
    const t0 = process.hrtime.bigint();
    const r = await call(n, 'GET', `/v1/subjects/${code}?scope=province&purpose=${purpose}`);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    count(t, 'query', r.status, r.text);
    if (r.status === 200) t.queryMs.push(ms);
  }
}

export function percentile(xs: readonly number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** A subject of the node's division that nobody loaded (a query before any record exists). */
export function ownSubject(n: SimNode): () => string {
  const rng = seededRng(Number(n.id) + 2);
  return () => randomUscc(rng, { division: n.id });
}
