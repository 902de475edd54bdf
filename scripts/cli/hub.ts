/**
 * `credit hub start|token|tokens|nodes|revoke|crl|user`: the provincial hub, run by the hub operator. Every
 * command reads the hub config; the admin commands open the hub's existing database directly
 * (beside a running hub: SQLite WAL or PostgreSQL; never a new one), so a revocation takes effect
 * on the node's next request. The hub database is the CA's only register (`credit ca …` refuses a
 * hub's caDir).
 */
import type { Knex } from 'knex';
import { assertGrade, parseTtl } from '../../certs/tokens.js';
import { certError } from '../../certs/errors.js';
import { isRevocationReason, parseCrl, REVOCATION_REASONS, type RevocationReason } from '../../certs/crl.js';
import { buildCrl, buildSm2RegisterCrl } from '../../certs/revoke.js';
import { hubError } from '../../hub/errors.js';
import { writeFileAtomic } from '../../certs/safe-files.js';
import { openHubCa, type HubCa } from '../../hub/ca-store.js';
import { loadHubConfig, readHubConfigFile } from '../../hub/config.js';
import { cancelTokens, listTokens, makeToken, revokeNode, type ListedToken } from '../../hub/enrolment-service.js';
import { openExistingHubStore } from '../../hub/admin-store.js';
import { nodesStore, type HubNode } from '../../hub/nodes-store.js';
import { cliError } from '../errors.js';
import { hubCatalogGroup } from './hub-catalog.js';
import { withOperatorAudit } from '../../audit/operator.js';
import { command, group, optionalInt, optionalString, requireString } from './framework.js';
import { installServiceCommand } from './install-service.js';
import { migrateCommand } from './migrate.js';
import { rekeyCommand } from './rekey.js';
import { HUB_AT_REST } from '../../hub/at-rest.js';
import { hubCheckCommand } from './check-commands.js';
import { HUB_SCHEMA } from '../../hub/migrations.js';
import { hubQualityCommand } from './hub-quality.js';
import { hubReportCommand } from './hub-report.js';
import { hubWitnessGroup } from './hub-witness.js';
import { hubUserGroup } from './hub-users.js';

const DAY_MS = 86_400_000;
const CONFIG_HELP = [
  '  --config FILE   hub config (JSON): {"dataDir":"DIR","caDir":"CA","databaseUrl":"postgres://…","listen":{"host":"0.0.0.0","port":8443},"hosts":["hub.example.cn"]}',
  '                  the store: databaseUrl (env DATABASE_URL overrides it), else DATADIR/hub.sqlite; admin commands never create one',
].join('\n');

/**
 * Opens the hub's existing database (never a new one: ERR_HUB_STORE_NOT_FOUND; `databaseUrl` from
 * the config file, env DATABASE_URL overrides) and the CA over it; closes it after `fn`.
 */
async function withHubDb<T>(configFile: string, fn: (db: Knex, ca: HubCa) => Promise<T>): Promise<T> {
  const config = loadHubConfig(configFile);
  const db = await openExistingHubStore(config);
  try {
    return await fn(db, openHubCa(db, config.caDir));
  } finally {
    await db.destroy();
  }
}

const start = command({
  name: 'start',
  summary: 'run the provincial hub in the foreground (JSON logs on stdout; SIGTERM/SIGINT shut it down gracefully)',
  usage: '--config FILE',
  help: [
    CONFIG_HELP,
    '  At start: migrates the hub and audit tables, issues the hub certificate (CN 430000) into DATADIR/hub.pem',
    '  from the CA in caDir when missing or under a third of its life, and listens on HTTPS with mutual TLS.',
    '  env DATABASE_URL=postgres://… uses PostgreSQL instead of DATADIR/hub.sqlite; CREDIT_LOG_LEVEL sets the log level',
  ].join('\n'),
  options: { config: { type: 'string' } },
  run: async ({ values }) => {
    const config = readHubConfigFile(requireString(values, 'config')); // writes nothing: startHub does, after its checks
    const { closeHubOnSignals, startHub } = await import('../../hub/server.js'); // Fastify loads only for this command
    const hub = await startHub({ config });
    await closeHubOnSignals(hub);
    return 0;
  },
});

const token = command({
  name: 'token',
  summary: 'make a one-time enrolment token for a node (printed alone on stdout, once; expiry on stderr)',
  usage: '--config FILE --node ID --grade 1-4 [--ttl 24h] [--name NAME]',
  help: [
    CONFIG_HELP,
    '  --node ID       the node id the token may enrol (6-digit division code, e.g. 430100)',
    "  --grade N       the node's protection grade (等保 level 1–4): what it may send and receive",
    '  --ttl DURATION  lifetime: 900s, 30m, 24h, 7d (default 24h, at most 30d)',
    '  --name NAME     the node\'s name in the registry (e.g. 长沙市)',
    '  Only the SHA-256 of the token is stored. The node redeems it with POST /v1/enroll (credit node init).',
  ].join('\n'),
  options: { config: { type: 'string' }, node: { type: 'string' }, grade: { type: 'string' }, ttl: { type: 'string' }, name: { type: 'string' } },
  run: async ({ values, io }) => {
    const configFile = requireString(values, 'config');
    const nodeId = requireString(values, 'node');
    const gradeText = requireString(values, 'grade');
    const grade = assertGrade(/^\d+$/.test(gradeText) ? Number(gradeText) : gradeText);
    const ttlText = optionalString(values, 'ttl') ?? '24h';
    const ttlMs = parseTtl(ttlText);
    if (ttlMs === undefined || ttlMs > 30 * DAY_MS) throw cliError('ERR_USAGE', `--ttl must be like 30m, 24h or 7d, at most 30d; got ${JSON.stringify(ttlText)}`);
    const name = optionalString(values, 'name');
    if (name !== undefined && (name.trim() === '' || [...name].length > 100)) throw cliError('ERR_USAGE', '--name must be 1–100 characters');
    const made = await withHubDb(configFile, async (db, ca) => {
      const m = await makeToken(db, ca, { nodeId, grade, ttlMs, ...(name === undefined ? {} : { name: name.trim() }) });
      await withOperatorAudit(db, (audit, actor) => audit.record({ action: 'token.mint', actor, actorNode: '430000', object: `node:${nodeId}`, outcome: 'success', reason: `grade=${grade} expires=${m.expiresAt.toISOString()}` }));
      return m;
    });
    io.stdout(`${made.token}\n`);
    io.stderr(`enrolment token for node ${nodeId} (grade ${grade}): single use, expires ${made.expiresAt.toISOString()}\n`);
    return 0;
  },
});

/** Terminal columns of a string: CJK and full-width characters take two. */
function width(s: string): number {
  let w = 0;
  for (const ch of s) w += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/u.test(ch) ? 2 : 1;
  return w;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => width(r[i]!))));
  return rows.map((r) => r.map((c, i) => c + ' '.repeat(widths[i]! - width(c))).join('  ').trimEnd()).join('\n') + '\n';
}

const day = (iso: string | null) => (iso === null ? '-' : iso.slice(0, 19).replace('T', ' ') + 'Z');

const nodes = command({
  name: 'nodes',
  summary: 'list the registered nodes: grade, status, certificate expiry, last seen, traffic counters',
  usage: '--config FILE [--json]',
  help: [CONFIG_HELP, '  --json          one JSON array instead of the table'].join('\n'),
  options: { config: { type: 'string' }, json: { type: 'boolean' } },
  run: async ({ values, io }) => {
    const list: HubNode[] = await withHubDb(requireString(values, 'config'), (db) => nodesStore.list(db));
    if (values['json'] === true) {
      io.stdout(`${JSON.stringify(list, null, 2)}\n`);
      return 0;
    }
    io.stdout(
      table([
        ['NODE', 'NAME', 'GRADE', 'STATUS', 'CERT EXPIRES', 'LAST SEEN', 'BATCHES IN', 'RECORDS IN', 'RECORDS OUT', 'QUERIES'],
        ...list.map((n) => [n.nodeId, n.name ?? '-', String(n.grade), n.status, day(n.certNotAfter), day(n.lastSeenAt), String(n.batchesIn), String(n.recordsIn), String(n.recordsOut), String(n.queries)]),
      ]),
    );
    if (list.length === 0) io.stderr('no nodes registered yet: credit hub token --config FILE --node ID --grade N\n');
    return 0;
  },
});

const revoke = command({
  name: 'revoke',
  summary: "cut a node off: revoke its certificates and mark it revoked (effective on its next request)",
  usage: '--config FILE --node ID [--reason keyCompromise|superseded|cessationOfOperation]',
  help: [
    CONFIG_HELP,
    '  --node ID       the node to cut off',
    `  --reason R      ${REVOCATION_REASONS.join(' | ')} (default keyCompromise)`,
    '  The hub checks its register on every request, so the node is refused at once, even on an open',
    '  connection; GET /v1/crl lists the serials within 60 s. Re-admit a node with a new token.',
  ].join('\n'),
  options: { config: { type: 'string' }, node: { type: 'string' }, reason: { type: 'string' } },
  run: async ({ values, io }) => {
    const configFile = requireString(values, 'config');
    const nodeId = requireString(values, 'node');
    const reason = optionalString(values, 'reason') ?? 'keyCompromise';
    if (!isRevocationReason(reason)) throw certError('ERR_REVOCATION_REASON', `--reason must be ${REVOCATION_REASONS.join(', ')}; got ${JSON.stringify(reason)}`);
    const serials = await withHubDb(configFile, (db, ca) => withOperatorAudit(db, (audit, actor) => revokeNode(db, ca, { nodeId, reason: reason as RevocationReason, audit, actor })));
    for (const s of serials) io.stdout(`revoked ${s} (${reason})\n`);
    io.stderr(`node ${nodeId} is revoked${serials.length === 0 ? ' (it had no active certificate)' : ''}\n`);
    return 0;
  },
});

const crl = command({
  name: 'crl',
  summary: "write the hub's current X.509 CRL (PEM) from its own register, as GET /v1/crl (or, --sm2, GET /v1/crl/sm2) serves it",
  usage: '--config FILE --out FILE [--days N] [--sm2 [--openssl]]',
  help: [
    CONFIG_HELP,
    '  --out FILE      where to write the CRL (PEM, -----BEGIN X509 CRL-----)',
    '  --days N        nextUpdate = now + N days (default 7): publish a new CRL before then',
    '  --sm2           the SM2 root\'s CRL instead (SM2-with-SM3, ID 1234567812345678), as GET /v1/crl/sm2 serves it',
    '  --openssl       with --sm2: sign with the empty ID, the only one OpenSSL 3.0 checks SM2 CRL signatures with',
    '  Check a certificate against it: openssl verify -crl_check -CAfile ca.pem -CRLfile FILE node.pem',
    '  (SM2: openssl verify -crl_check -CAfile sm2-ca.pem -CRLfile FILE -vfyopt distid:1234567812345678 node-sm2.pem, with an --openssl CRL)',
  ].join('\n'),
  options: { config: { type: 'string' }, out: { type: 'string' }, days: { type: 'string' }, sm2: { type: 'boolean' }, openssl: { type: 'boolean' } },
  run: async ({ values, io }) => {
    const configFile = requireString(values, 'config');
    const out = requireString(values, 'out');
    const nextUpdateDays = optionalInt(values, 'days', 7);
    const sm2 = values['sm2'] === true;
    if (values['openssl'] === true && !sm2) throw cliError('ERR_USAGE', '--openssl goes with --sm2 (the RSA CRL is checked by OpenSSL as it is)');
    const { pem, parsed } = await withHubDb(configFile, async (_db, ca) => {
      if (!sm2) {
        const text = await buildCrl(ca, { nextUpdateDays });
        return { pem: text, parsed: await parseCrl(text, { caCertPem: ca.certPem }) };
      }
      if (ca.sm2 === undefined) throw hubError('ERR_SM2_CA_ABSENT', `${loadHubConfig(configFile).caDir} holds no SM2 root (\`credit ca init --algorithm sm2\`): there is no SM2 CRL to write`);
      const text = await buildSm2RegisterCrl(ca, ca.sm2.issuer, { nextUpdateDays, openssl: values['openssl'] === true });
      return { pem: text, parsed: await parseCrl(text, { caCertPem: ca.sm2.certPem }) };
    });
    writeFileAtomic(out, pem, 0o644);
    io.stdout(`${sm2 ? 'SM2 ' : ''}CRL with ${parsed.revoked.size} revoked certificate(s), next update ${parsed.nextUpdate?.toISOString()}: ${out}\n`);
    return 0;
  },
});

const tokens = command({
  name: 'tokens',
  summary: 'list enrolment tokens (never the tokens themselves), or cancel the unused ones of a node',
  usage: '[cancel] --config FILE [--node ID] [--json]',
  help: [
    CONFIG_HELP,
    '  credit hub tokens --config FILE               every token: id (hash prefix), node, grade, status, created, expires',
    '  credit hub tokens cancel --config FILE --node ID   cancel the node\'s unused tokens (they answer ERR_TOKEN_CANCELLED)',
    '  --node ID       with cancel: the node whose tokens to cancel; when listing: show only this node',
    '  --json          one JSON array instead of the table',
    '  Status: outstanding | used | expired | cancelled. `credit hub revoke` cancels a node\'s tokens too.',
  ].join('\n'),
  options: { config: { type: 'string' }, node: { type: 'string' }, json: { type: 'boolean' } },
  positionals: true,
  run: async ({ values, positionals, io }) => {
    const configFile = requireString(values, 'config');
    const [action, ...extra] = positionals;
    if (extra.length > 0 || (action !== undefined && action !== 'cancel')) throw cliError('ERR_USAGE', `unknown tokens action ${JSON.stringify(positionals.join(' '))}; use \`credit hub tokens\` or \`credit hub tokens cancel --node ID\``);
    const node = optionalString(values, 'node');
    if (action === 'cancel') {
      if (node === undefined) throw cliError('ERR_USAGE', '--node is required with cancel');
      const n = await withHubDb(configFile, (db, ca) => withOperatorAudit(db, (audit, actor) => cancelTokens(ca, { nodeId: node, audit, actor })));
      io.stdout(`cancelled ${n} enrolment token${n === 1 ? '' : 's'} of node ${node}\n`);
      return 0;
    }
    const list: ListedToken[] = (await withHubDb(configFile, (_db, ca) => listTokens(ca))).filter((r) => node === undefined || r.nodeId === node);
    if (values['json'] === true) {
      io.stdout(`${JSON.stringify(list, null, 2)}\n`);
      return 0;
    }
    io.stdout(table([['NODE', 'GRADE', 'STATUS', 'ID', 'CREATED', 'EXPIRES'], ...list.map((r) => [r.nodeId, String(r.grade), r.status, r.id, day(r.createdAt), day(r.expiresAt)])]));
    return 0;
  },
});

const installService = installServiceCommand('hub', async (configFile) => {
  const c = loadHubConfig(configFile);
  return { nodeId: '430000', dataDir: c.dataDir, writableDirs: [c.caDir], shutdownTimeoutMs: c.shutdownTimeoutMs };
});

const migrate = migrateCommand('hub', (configFile) => ({ target: loadHubConfig(configFile).databaseTarget, parts: HUB_SCHEMA }));
const rekey = rekeyCommand('hub', (configFile) => {
  const c = loadHubConfig(configFile);
  return { target: c.databaseTarget, parts: HUB_SCHEMA, side: HUB_AT_REST, dataDir: c.dataDir, atRest: c.atRest, actorNode: '430000' };
});

export const hubGroup = group('hub', 'the provincial hub (hub operator): run it, enrol and revoke nodes', [start, token, tokens, nodes, revoke, crl, installService, migrate, rekey, hubCheckCommand, hubCatalogGroup, hubQualityCommand, hubReportCommand, hubWitnessGroup, hubUserGroup]);
