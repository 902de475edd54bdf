/** `credit logs [FILE]`: the servers' JSON log lines as readable text (stdin when no file; `-` too). */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { command } from './framework.js';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const SKIP = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'service', 'v']);

/** One pino JSON line as `2026-12-03T14:00:00.000Z INFO  message key=value …`; other lines unchanged. */
export function prettyLine(line: string): string {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) return line;
  const time = typeof j.time === 'number' ? new Date(j.time).toISOString() : '-';
  const level = (LEVELS[Number(j.level)] ?? String(j.level ?? '-')).padEnd(5);
  const rest = Object.entries(j)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${time} ${level} ${String(j.msg ?? '')}${rest ? `  ${rest}` : ''}`;
}

export const logsCommand = command({
  name: 'logs',
  summary: "print a node's or the hub's JSON log lines readably (a file, or stdin: journalctl -u credit-node -o cat | credit logs)",
  usage: '[FILE]',
  help: '  FILE  a log file of JSON lines (default: stdin); lines that are not JSON are printed as they are',
  positionals: true,
  run: async ({ positionals, io }) => {
    const file = positionals[0];
    const input = file === undefined || file === '-' ? process.stdin : createReadStream(file, 'utf8');
    for await (const line of createInterface({ input, crlfDelay: Infinity })) if (line.trim() !== '') io.stdout(prettyLine(line) + '\n');
    return 0;
  },
});
