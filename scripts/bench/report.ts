/**
 * What a bench run reports: the figures of the scenarios, ratios to the raw baselines of the same
 * run, a Markdown table, the machine-readable JSON line (always every key of the issue #7
 * contract, null where not measured), and docs/benchmarks.md.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import type { BenchResult } from './scenario.js';

/** Keys the JSON line always carries (null when the scenario did not run or is not built yet). */
export const CONTRACT_KEYS = [
  'raw_insert_rps', 'naive_rps', 'aes_gcm_mbps', 'sha256_mbps', 'sign_per_s', 'seal_open_rps', 'import_lps', 'import_peak_rss_mb',
  'audit_append_eps', 'audit_verify_eps', 'e2e_rps', 'e2e_vs_naive', 'e2e_vs_insert', 'query_p50_ms', 'query_p99_ms', 'query_vs_raw',
  // issue #23 item 4: every new path (scenarios import-xlsx, quality, seal-open, e2e-sm, e2e-pg, hubs-pg)
  'import_xlsx_rps', 'import_xlsx_peak_rss_mb',
  'quality_intake_rps', 'quality_report_month_s', 'quality_report_all_s',
  'seal_open_sm_rps', 'e2e_sm_rps', 'e2e_sm_vs_rsa',
  'e2e_pg_rps', 'query_pg_p50_ms', 'query_pg_p99_ms',
  // issue #22: 2 hubs ≥ 1.6 × 1 hub on PostgreSQL
  'hubs1_pg_rps', 'hubs2_pg_rps', 'hubs2_vs_1',
  'naive_query_p50_ms', 'query_vs_naive', // issue 23 item 2: the query's fair peer
] as const;

export interface Skipped {
  name: string;
  note: string;
  /** It ran and threw (rather than being unavailable here). */
  failed?: boolean;
}

/** Ratios of a figure to a raw baseline, when both were measured in this run. */
const RATIOS: { key: string; of: string; to: string; label: string }[] = [
  { key: 'import_vs_insert', of: 'import_lps', to: 'raw_insert_rps', label: 'CSV import vs raw insert' },
  { key: 'naive_vs_insert', of: 'naive_rps', to: 'raw_insert_rps', label: 'naive exchange vs raw insert' },
  { key: 'e2e_vs_naive', of: 'e2e_rps', to: 'naive_rps', label: 'end-to-end exchange vs naive exchange' },
  { key: 'e2e_vs_insert', of: 'e2e_rps', to: 'raw_insert_rps', label: 'end-to-end exchange vs raw insert' },
  { key: 'e2e_sm_vs_rsa', of: 'e2e_sm_rps', to: 'e2e_rps', label: 'end-to-end exchange, national suite vs RSA suite' },
  { key: 'hubs2_vs_1', of: 'hubs2_pg_rps', to: 'hubs1_pg_rps', label: 'intake, 2 hub processes vs 1 (PostgreSQL; issue 22 target ≥ 1.6)' },
];

/** The results followed by every ratio whose two figures are present. */
export function withRatios(results: BenchResult[]): BenchResult[] {
  const by = new Map(results.map((r) => [r.key, r.value]));
  const out = [...results];
  for (const r of RATIOS) {
    const a = by.get(r.of);
    const b = by.get(r.to);
    if (a !== undefined && b !== undefined && b > 0 && !by.has(r.key)) out.push({ label: r.label, key: r.key, value: a / b, unit: '× baseline', note: `${r.of} / ${r.to}, same run` });
  }
  return out;
}

export function round(v: number): number {
  return Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 1000) / 1000;
}

/** One JSON object: the contract keys first (null when absent), then every other figure. */
export function jsonLine(results: BenchResult[]): string {
  const out: Record<string, number | null> = {};
  for (const k of CONTRACT_KEYS) out[k] = null;
  for (const r of results) out[r.key] = Number.isFinite(r.value) ? round(r.value) : null;
  return JSON.stringify(out);
}

export function table(results: BenchResult[], skipped: Skipped[]): string {
  const rows = results.map((r) => `| ${r.label} (\`${r.key}\`) | ${round(r.value).toLocaleString('en-US')} | ${r.unit} | ${r.note ?? ''} |`);
  const skips = skipped.map((s) => `| *${s.name}: ${s.failed ? 'FAILED' : 'skipped'}* | — | | ${s.note.replaceAll('|', '\\|')} |`);
  return ['| figure | value | unit | note |', '|---|---:|---|---|', ...rows, ...skips].join('\n');
}

export interface Machine {
  date: string;
  cpu: string;
  cores: number;
  node: string;
  os: string;
  engine: string;
  /** 1-minute load average when the run started: other work on the machine skews the figures. */
  load: number;
}

export function machine(engine: string): Machine {
  const cpus = os.cpus();
  return { date: new Date().toISOString().slice(0, 10), cpu: cpus[0]?.model ?? 'unknown CPU', cores: cpus.length, node: process.version, os: `${os.platform()} ${os.release()}`, engine, load: os.loadavg()[0]! };
}

const BEGIN = '<!-- bench:begin (written by `npm run bench`; edit outside these markers) -->';
const END = '<!-- bench:end -->';

/**
 * Writes the run into `file` between the bench markers, keeping whatever else the file says
 * (hand-written history, how to read the figures); a new file gets a title and the markers.
 */
export function writeDoc(file: string, m: Machine, command: string, body: string): void {
  const section = [
    BEGIN,
    `Last run: \`${command}\` on ${m.date}.`,
    '',
    `Machine: ${m.cpu}, ${m.cores} cores; Node ${m.node}; ${m.os}; store engine: ${m.engine}; load average ${m.load.toFixed(1)} when the run started.`,
    '',
    body,
    END,
  ].join('\n');
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const a = old.indexOf(BEGIN);
  const b = old.indexOf(END);
  const doc = a !== -1 && b > a ? old.slice(0, a) + section + old.slice(b + END.length) : `# Benchmarks\n\n${section}\n`;
  writeFileSync(file, doc);
}
