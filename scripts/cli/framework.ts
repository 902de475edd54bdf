/**
 * A small command tree for `credit`: groups hold commands or further groups; every level answers
 * `--help`. Options are declared per command (node:util parseArgs), so unknown flags are refused
 * with ERR_USAGE instead of being ignored.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { isCreditError } from '../../protocol/errors.js';
import { cliError } from '../errors.js';

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface CommandContext {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
  io: Io;
}

export interface Command {
  kind: 'command';
  name: string;
  summary: string;
  /** Usage after the command path, e.g. "--dir DIR [--days N]". */
  usage: string;
  /** Longer text shown by --help: one line per option is usual. */
  help?: string;
  options?: Options;
  positionals?: boolean;
  run(ctx: CommandContext): Promise<number>;
}

export interface Group {
  kind: 'group';
  name: string;
  summary: string;
  children: Entry[];
}

/**
 * A child whose module loads only when the command line reaches it, so `credit --help` and
 * `credit --version` never load Fastify, knex or the crypto libraries.
 */
export interface Lazy {
  kind: 'lazy';
  name: string;
  summary: string;
  /** True when it loads a single command (no sub-commands). */
  leaf: boolean;
  load(): Promise<Command | Group>;
}

export type Entry = Command | Group | Lazy;

export function command(c: Omit<Command, 'kind'>): Command {
  return { kind: 'command', ...c };
}

export function group(name: string, summary: string, children: Entry[]): Group {
  return { kind: 'group', name, summary, children };
}

export function lazy(name: string, summary: string, load: () => Promise<Command | Group>, o: { leaf?: boolean } = {}): Lazy {
  return { kind: 'lazy', name, summary, leaf: o.leaf ?? false, load };
}

/** The entry behind a lazy child (itself otherwise). */
export async function resolve(e: Entry): Promise<Command | Group> {
  return e.kind === 'lazy' ? e.load() : e;
}

/** Edit distance between two short words: insertions, deletions, substitutions and swaps of neighbours. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i]!;
      row[j] = Math.min(d[i - 1]![j]! + 1, row[j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The child name nearest to `word` (a prefix, or at most a third of its letters wrong), if any. */
export function nearest(word: string, names: readonly string[]): string | undefined {
  const prefixed = names.filter((n) => n.startsWith(word) || word.startsWith(n));
  if (prefixed.length === 1) return prefixed[0];
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const n of names) {
    const d = distance(word, n);
    if (d < bestDistance) [best, bestDistance] = [n, d];
  }
  return best;
}

function groupHelp(path: string[], g: Group): string {
  const width = Math.max(...g.children.map((c) => c.name.length), 4);
  const lines = g.children.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}${c.kind === 'command' || (c.kind === 'lazy' && c.leaf) ? '' : ' …'}`);
  return [
    `Usage: ${path.join(' ')} <command> [options]`,
    '',
    g.summary,
    '',
    'Commands:',
    ...lines,
    '',
    `Run "${path.join(' ')} <command> --help" for a command's options.`,
    '',
  ].join('\n');
}

function commandHelp(path: string[], c: Command): string {
  return [`Usage: ${path.join(' ')} ${c.usage}`.trimEnd(), '', c.summary, ...(c.help ? ['', c.help.trimEnd()] : []), '  -h, --help  show this help', ''].join('\n');
}

/** Runs argv against the tree; returns the process exit code. */
export async function dispatch(root: Group, argv: string[], io: Io): Promise<number> {
  const path = [root.name];
  let node: Command | Group = root;
  let rest = argv;
  while (node.kind === 'group') {
    const [head, ...tail] = rest;
    if (head === undefined || head === '--help' || head === '-h' || head === 'help') {
      (head === undefined ? io.stderr : io.stdout)(groupHelp(path, node));
      return head === undefined ? 2 : 0;
    }
    const next: Entry | undefined = node.children.find((c) => c.name === head);
    if (!next) {
      const near = head.startsWith('-') ? undefined : nearest(head, node.children.map((c) => c.name));
      const hint = near === undefined ? '' : `; did you mean "${[...path, near].join(' ')}"?`;
      io.stderr(`error ERR_USAGE: unknown command "${[...path, head].join(' ')}"${hint}\n\n${groupHelp(path, node)}`);
      return 2;
    }
    path.push(head);
    node = await resolve(next);
    rest = tail;
  }
  const cmd: Command = node;
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(commandHelp(path, cmd));
    return 0;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: cmd.options ?? {}, allowPositionals: cmd.positionals ?? false, strict: true });
  } catch (e) {
    io.stderr(`error ERR_USAGE: ${(e as Error).message}\n\n${commandHelp(path, cmd)}`);
    return 2;
  }
  try {
    return await cmd.run({ values: parsed.values, positionals: parsed.positionals, io });
  } catch (e) {
    if (isCreditError(e)) {
      io.stderr(`error ${e.code}: ${e.message}\n`);
      return e.code === 'ERR_USAGE' ? 2 : 1;
    }
    throw e;
  }
}

/** Reads a required string option or throws ERR_USAGE naming it. */
export function requireString(values: CommandContext['values'], name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw cliError('ERR_USAGE', `--${name} is required`);
  return v;
}

export function optionalString(values: CommandContext['values'], name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export function optionalInt(values: CommandContext['values'], name: string, fallback: number): number {
  const v = values[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isInteger(n) || n <= 0) throw cliError('ERR_USAGE', `--${name} must be a positive whole number`);
  return n;
}

export const processIo: Io = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
};
