/**
 * Run as a process by hostile-import.test.ts: a node app on a fresh store takes the hostile import
 * (1,000 NDJSON lines × 1,000 unknown fields, streamed), and this prints one JSON line with the
 * report's size and the process's peak RSS (VmHWM), so the test can bound memory without timing.
 */
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { nodeFixture, record } from '../node/app-fixture.js';

const peakMb = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024;
const closers: (() => unknown)[] = [];
const f = await nodeFixture({ teardown: (fn) => void closers.push(fn) });
const headers = { ...(await f.auth('submitter', 'public')), 'content-type': 'application/x-ndjson' };
const base = record('CF').fields;
function* lines(): Generator<string> {
  for (let i = 0; i < 1000; i++) {
    const fields: Record<string, unknown> = { ...base, decisionNo: `RSS-${i}` };
    for (let k = 0; k < 1000; k++) fields[`unknown_${k}`] = 'x';
    yield JSON.stringify({ type: 'CF', fields }) + '\n';
  }
}
const before = peakMb();
const res = await f.app.inject({ method: 'POST', url: '/v1/records/import', headers, payload: Readable.from(lines()) });
process.stdout.write(JSON.stringify({ status: res.statusCode, reportBytes: Buffer.byteLength(res.body), rejected: res.json().rejected, peakBeforeMb: Math.round(before), peakMb: Math.round(peakMb()) }) + '\n');
for (const c of closers.reverse()) await c();
