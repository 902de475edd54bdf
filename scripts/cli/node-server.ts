/** `credit node start` (run a city node in the foreground) and `credit node token` (issue a local user token). */
import { setFlagsFromString } from 'node:v8';
import { isClassification, type Classification } from '../../protocol/classification.js';
import { isRole, type Role } from '../../node/access.js';
import { loadConfig } from '../../node/config.js';
import { issueToken } from '../../node/tokens.js';
import { cliError } from '../errors.js';
import { command, optionalString, requireString, type Command } from './framework.js';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
export const MAX_TTL_SECONDS = 30 * 86400;

/** "8h", "30m", "7d", "900s" (or bare seconds) → seconds; at most 30 days. */
export function parseTtl(text: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  const n = m ? Number(m[1]) * UNITS[m[2] || 's']! : NaN;
  if (!Number.isSafeInteger(n) || n <= 0 || n > MAX_TTL_SECONDS) throw cliError('ERR_USAGE', `--ttl must be like 8h, 30m, 7d or 900s, at most 30d; got ${JSON.stringify(text)}`);
  return n;
}

const start = command({
  name: 'start',
  summary: 'run the city node in the foreground (JSON logs on stdout; SIGTERM/SIGINT shut it down gracefully)',
  usage: '--config FILE',
  help: '  --config FILE  node config (JSON): {"nodeId":"430100","dataDir":"DIR","listen":{"host":"127.0.0.1","port":8480}}\n  env DATABASE_URL=postgres://… uses PostgreSQL instead of DIR/node.sqlite; CREDIT_LOG_LEVEL sets the log level',
  options: { config: { type: 'string' } },
  run: async ({ values }) => {
    const config = loadConfig(requireString(values, 'config'));
    // Bulk imports allocate fast, and by default V8 lets the old generation grow to 4x the live
    // heap between full collections: ~280 MiB RSS in a 1,000,000-line import. Growing by 1.25x
    // keeps the node under 200 MiB for a few more (mostly concurrent) full collections; see
    // docs/benchmarks.md. V8 reads the flag at every full GC, so setting it now takes effect.
    setFlagsFromString('--heap-growing-percent=25');
    const { closeOnSignals, startNode } = await import('../../node/server.js'); // Fastify loads only for this command
    const node = await startNode({ config });
    await closeOnSignals(node);
    return 0;
  },
});

const token = command({
  name: 'token',
  summary: "issue a local user's JWT (printed alone on stdout)",
  usage: '--config FILE --user NAME --role ROLE --clearance CLASS [--ttl 8h]',
  help: [
    '  --config FILE      node config (the token is signed with its jwt secret)',
    '  --user NAME        user name (the token subject)',
    '  --role ROLE        submitter | query | officer | auditor | admin',
    '  --clearance CLASS  public | shared | restricted | internal',
    '  --ttl DURATION     lifetime: 900s, 30m, 8h, 7d (default 8h, at most 30d)',
  ].join('\n'),
  options: { config: { type: 'string' }, user: { type: 'string' }, role: { type: 'string' }, clearance: { type: 'string' }, ttl: { type: 'string' } },
  run: async ({ values, io }) => {
    const user = requireString(values, 'user');
    const role = requireString(values, 'role');
    const clearance = requireString(values, 'clearance');
    if (!/^[A-Za-z0-9._@-]{1,64}$/.test(user)) throw cliError('ERR_USAGE', '--user must be 1–64 letters, digits, . _ @ -');
    if (!isRole(role)) throw cliError('ERR_USAGE', '--role must be one of submitter, query, officer, auditor, admin');
    if (!isClassification(clearance)) throw cliError('ERR_USAGE', '--clearance must be one of public, shared, restricted, internal');
    const ttlSeconds = parseTtl(optionalString(values, 'ttl') ?? '8h');
    const config = loadConfig(requireString(values, 'config'));
    io.stdout((await issueToken(config.jwtSecret, config.nodeId, { user, role: role as Role, clearance: clearance as Classification, ttlSeconds })) + '\n');
    return 0;
  },
});

export const nodeServerCommands: Command[] = [start, token];
