/** `credit node start` (run a city node in the foreground) and `credit node token` (issue a service account's token). */
import { setFlagsFromString } from 'node:v8';
import { isClassification, type Classification } from '../../protocol/classification.js';
import { ADMIN_ROLES, ROLES, isRole, type Role } from '../../node/access.js';
import { loadConfig, readConfigFile } from '../../node/config.js';
import { mintServiceTokenFor } from '../../node/service-tokens.js';
import { MAX_SERVICE_TTL_SECONDS } from '../../node/tokens.js';
import { cliError } from '../errors.js';
import { isUserName, USER_NAME_RULE } from '../../server/user-name.js';
import { command, optionalString, requireString, type Command } from './framework.js';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
export const MAX_TTL_SECONDS = MAX_SERVICE_TTL_SECONDS;

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
    const config = readConfigFile(requireString(values, 'config')); // writes nothing: startNode does, after its checks
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
  summary: "issue a service account's JWT, e.g. an import robot's (printed alone on stdout; recorded, listed and revocable: credit node tokens). People log in: credit node user",
  usage: '--config FILE --user NAME --role ROLE --clearance CLASS [--ttl 8h]',
  help: [
    '  --config FILE      node config (the token is signed with its jwt secret)',
    '  --user NAME        service account name (the token subject)',
    `  --role ROLE        ${ROLES.join(' | ')}`,
    '  --clearance CLASS  public | shared | restricted | internal',
    '  --ttl DURATION     lifetime: 900s, 30m, 8h, 7d (default 8h, at most 30d)',
  ].join('\n'),
  options: { config: { type: 'string' }, user: { type: 'string' }, role: { type: 'string' }, clearance: { type: 'string' }, ttl: { type: 'string' } },
  run: async ({ values, io }) => {
    const user = requireString(values, 'user');
    const role = requireString(values, 'role');
    const clearance = requireString(values, 'clearance');
    if (!isUserName(user)) throw cliError('ERR_USAGE', `--user must be ${USER_NAME_RULE}`);
    if (!isRole(role)) throw cliError('ERR_USAGE', `--role must be one of ${ROLES.join(', ')}`);
    if (!isClassification(clearance)) throw cliError('ERR_USAGE', '--clearance must be one of public, shared, restricted, internal');
    // the admin duties (users, roles, the audit log) are done by people who log in with both factors (issue 18), never by a long-lived token
    if ((ADMIN_ROLES as readonly string[]).includes(role)) throw cliError('ERR_USAGE', `--role ${role}: no service token for an admin duty; add a user (credit node user add) who logs in`);
    const ttlSeconds = parseTtl(optionalString(values, 'ttl') ?? '8h');
    const config = loadConfig(requireString(values, 'config'));
    // Recorded (its jti) and audited in the node's own store (issue 18), created and migrated first when the node has not run yet.
    const { token: jwt } = await mintServiceTokenFor(config, { user, role: role as Role, clearance: clearance as Classification, ttlSeconds });
    io.stdout(jwt + '\n');
    return 0;
  },
});

export const nodeServerCommands: Command[] = [start, token];
