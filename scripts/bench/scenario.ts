/** One benchmark scenario: measures itself and returns named figures (medians, rates, ratios). */
export interface BenchResult {
  /** Row label for the printed table. */
  label: string;
  /** Key for the machine-readable JSON line, e.g. "seal_open_rps". */
  key: string;
  value: number;
  unit: string;
  note?: string;
}

export interface RunOptions {
  /** Smaller sizes: the quick suite takes ≈ 60 s on 2 cores with the PostgreSQL scenarios, compiled (`npm run bench`; ≈ 2 min through tsx; docs/benchmarks.md). */
  quick: boolean;
  /** Progress and context lines (stderr). */
  log: (line: string) => void;
}

export interface Scenario {
  name: string;
  /** Why the scenario cannot run in this checkout (e.g. a part not built yet); undefined when it can. */
  unavailable?(): string | undefined;
  run(opts: RunOptions): Promise<BenchResult[]>;
}

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Runs fn `repeats` times and returns the median of the per-run rates (items per second). */
export async function medianRate(repeats: number, items: number, fn: () => unknown | Promise<unknown>): Promise<number> {
  const rates: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    rates.push(items / s);
  }
  return median(rates);
}
