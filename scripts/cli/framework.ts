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

export type Entry = Command | Group;

export function command(c: Omit<Command, 'kind'>): Command {
  return { kind: 'command', ...c };
}

export function group(name: string, summary: string, children: Entry[]): Group {
  return { kind: 'group', name, summary, children };
}

function groupHelp(path: string[], g: Group): string {
  const width = Math.max(...g.children.map((c) => c.name.length), 4);
  const lines = g.children.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}${c.kind === 'group' ? ' …' : ''}`);
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
  let node: Entry = root;
  let rest = argv;
  while (node.kind === 'group') {
    const [head, ...tail] = rest;
    if (head === undefined || head === '--help' || head === '-h' || head === 'help') {
      (head === undefined ? io.stderr : io.stdout)(groupHelp(path, node));
      return head === undefined ? 2 : 0;
    }
    const next: Entry | undefined = node.children.find((c) => c.name === head);
    if (!next) {
      io.stderr(`error ERR_USAGE: unknown command "${[...path, head].join(' ')}"\n\n${groupHelp(path, node)}`);
      return 2;
    }
    path.push(head);
    node = next;
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
