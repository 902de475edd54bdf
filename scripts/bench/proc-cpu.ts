/**
 * CPU time of processes on Linux, from /proc/PID/stat (utime + stime, in clock ticks of 1/100 s:
 * USER_HZ is 100 on every Linux architecture this runs on), for saying where a run's time went:
 * CPU-seconds of each process between two samples, over the wall time between them.
 */
import { readFileSync } from 'node:fs';

/** CPU seconds (user + system) the process has used so far; NaN if it is gone or unreadable. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: count fields after the last ')'
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // fields 14 and 15 of stat(5)
  } catch {
    return NaN;
  }
}

/** CPU seconds of several processes, by pid. */
export function cpuSample(pids: readonly number[]): Map<number, number> {
  return new Map(pids.map((p) => [p, cpuSeconds(p)]));
}

/**
 * CPU seconds used between two samples by the processes of `later` (a process absent from
 * `earlier`, e.g. a database backend born in between, counts from 0; one gone by `later` is lost).
 */
export function cpuBetween(earlier: Map<number, number>, later: Map<number, number>): number {
  let s = 0;
  for (const [pid, t] of later) if (Number.isFinite(t)) s += t - (Number.isFinite(earlier.get(pid)) ? earlier.get(pid)! : 0);
  return s;
}
