/**
 * `credit audit …`: what auditors and operators do with a node's (or the hub's) audit log.
 * export (NDJSON bundle), verify (offline, with only the CA certificate), prove / consistency
 * (RFC 6962 proofs as JSON) and verify-proof, checkpoint (sign one now), prune (after 180 days).
 * Bundles carry the witnesses' cosignatures of the log's checkpoints (the hub's for a node's log,
 * the nodes' for the hub's), and verify requires one over the latest checkpoint (issue 16):
 * --node names the expected log, --witness cross-checks the witness's records (witness-export),
 * --crl refuses signatures made after their certificate's revocation. checkpoints lists the
 * signed tree sizes; consistency refuses sizes without one (ERR_AUDIT_UNSIGNED_SIZE).
 * `--db` is a SQLite file or a postgres:// URL (`--schema` picks a PostgreSQL schema).
 */
import { createReadStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { withOperatorAudit } from '../../audit/operator.js';
import { createInterface } from 'node:readline';
import type { Knex } from 'knex';
import { isCreditError } from '../../protocol/errors.js';
import { connect } from '../../audit/knex-connect.js';
import { auditError, exportBundle, migrateAudit, openAuditLog, proveConsistency, proveInclusion, pruneAudit, toNdjson, verifyProof, type AuditSigner } from '../../audit/index.js';
import { certFacts } from '../../audit/crypto.js';
import { summaryLine, verifyBundle } from '../../audit/verify-bundle.js';
import type { Revocation, WitnessBreak, WitnessedHead } from '../../audit/verify-policy.js';
import { readWitnessFile } from '../../audit/witness-records.js';
import { parseCrl } from '../../certs/crl.js';
import { checkpointsBetween, lastSeq } from '../../audit/store.js';
import { witnessExportCmd } from './audit-witness.js';
import { cliError } from '../errors.js';
import { assertSignerOwnsLog } from './audit-owner.js';
import { evidenceCommand } from './evidence.js';
import { command, group, optionalInt, optionalString, requireString, type CommandContext, type Options } from './framework.js';

const dbOptions: Options = { db: { type: 'string' }, schema: { type: 'string' } };
const dbHelp = '  --db URL_OR_FILE  SQLite file or postgres:// URL of the node or hub store\n  --schema NAME     PostgreSQL schema (default: the search path)';
const signerOptions: Options = { key: { type: 'string' }, cert: { type: 'string' }, chain: { type: 'string' } };
const signerHelp = '  --key FILE        signer private key (PEM) — the node\'s or hub\'s key\n  --cert FILE       signer certificate (PEM); its CN must be the log\'s node id (else ERR_AUDIT_SIGNER_INVALID, nothing written)\n  --chain FILE      intermediate CA certificates (PEM), if any';

/** Opens --db; with `signer`, first checks (read-only) that its certificate is for the log's node. */
async function withDb<T>(values: CommandContext['values'], write: boolean, fn: (db: Knex) => Promise<T>, signer?: AuditSigner): Promise<T> {
  const target = requireString(values, 'db');
  if (!/^postgres(ql)?:\/\//.test(target) && !existsSync(target)) throw cliError('ERR_USAGE', `--db ${target}: no such file`);
  const schema = optionalString(values, 'schema');
  const db = await connect(target, schema ? { schema } : {});
  try {
    if (signer) await assertSignerOwnsLog(db, signer, schema ? `${target} (schema ${schema})` : target);
    if (write) await migrateAudit(db);
    else if (!(await db.schema.hasTable('audit_log'))) throw cliError('ERR_USAGE', `--db ${target} holds no audit log`);
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

function readText(path: string): string {
  try {
    return path === '-' ? readFileSync(0, 'utf8') : readFileSync(path, 'utf8');
  } catch (e) {
    throw cliError('ERR_USAGE', `cannot read ${path}: ${(e as Error).message}`);
  }
}

/** The signer from --key/--cert[/--chain], or undefined when neither is given. */
function signerFrom(values: CommandContext['values']): AuditSigner | undefined {
  const key = optionalString(values, 'key');
  const cert = optionalString(values, 'cert');
  if (!key && !cert) return undefined;
  if (!key || !cert) throw cliError('ERR_USAGE', '--key and --cert go together');
  const certPem = readText(cert);
  let nodeId: string;
  try {
    nodeId = certFacts(certPem).cn;
  } catch {
    throw cliError('ERR_USAGE', `--cert ${cert} is not a PEM certificate`);
  }
  const chain = optionalString(values, 'chain');
  return { nodeId, keyPem: readText(key), certPem, ...(chain ? { chainPems: [readText(chain)] } : {}) };
}

function optionalSeq(values: CommandContext['values'], name: string): number | undefined {
  return values[name] === undefined ? undefined : optionalInt(values, name, 1);
}

function emit(ctx: CommandContext, json: unknown): void {
  const out = optionalString(ctx.values, 'out');
  const text = JSON.stringify(json, null, 2) + '\n';
  if (out) writeFileSync(out, text);
  else ctx.io.stdout(text);
}

const exportCmd = command({
  name: 'export',
  summary: 'write a self-contained NDJSON bundle of the log (entries, signed checkpoints, hub cosignatures, certificates)',
  usage: '--db URL_OR_FILE --out FILE [--from SEQ] [--to SEQ] [--key FILE --cert FILE | --witnessed]',
  help: [
    dbHelp,
    '  --out FILE        the bundle to write (NDJSON: header, cert, entry, checkpoint, cosignature lines)',
    '  --from SEQ        first entry (default: the first one stored)',
    '  --to SEQ          last entry (default: the newest entry when signing, else the last signed checkpoint)',
    signerHelp,
    '                    with --key/--cert a checkpoint is signed (and stored) at --to first, so the',
    '                    bundle reaches the newest entry; without them it ends at the last stored checkpoint',
    '  --witnessed       end at the last checkpoint a witness cosigned (the hub for a node\'s log, a node for',
    '                    the hub\'s): the bundle then verifies without --allow-unwitnessed; later entries wait',
    '                    for the next witness round. ERR_AUDIT_UNWITNESSED when nothing in the range is cosigned',
  ].join('\n'),
  options: { ...dbOptions, ...signerOptions, out: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, witnessed: { type: 'boolean' } },
  run: async ({ values, io }) => {
    const out = requireString(values, 'out');
    const from = optionalSeq(values, 'from');
    const to = optionalSeq(values, 'to');
    const signer = signerFrom(values);
    const witnessed = values.witnessed === true;
    if (witnessed && signer) throw cliError('ERR_USAGE', '--witnessed signs nothing: give it without --key/--cert');
    const r = await withDb(values, signer !== undefined, (db) => exportBundle(db, { ...(from ? { from } : {}), ...(to ? { to } : {}), ...(signer ? { signer } : {}), witnessed }), signer);
    writeFileSync(out, toNdjson(r.lines));
    // The export itself is an operator action in the log it exported (issue 16).
    await withDb(values, true, (db) => withOperatorAudit(db, (audit, actor) => audit.record({ action: 'audit.export', actor, object: `seq ${r.from}..${r.to}`, outcome: 'success', reason: `out=${basename(out)}` })));
    if (r.requestedTo !== undefined) {
      io.stderr(witnessed
        ? `note: entries after seq ${r.to} are not witnessed yet; the bundle ends at the last cosigned checkpoint, ${r.to}\n`
        : `note: entries after seq ${r.to} have no signed checkpoint yet; the bundle ends at ${r.to} (give --key/--cert to sign one)\n`);
    }
    io.stdout(`wrote ${out}: ${r.to - r.from + 1} entries (seq ${r.from}..${r.to}), ${r.checkpoints} checkpoints${r.cosignatures ? `, ${r.cosignatures} hub cosignatures` : ''}\n`);
    return 0;
  },
});

const verifyCmd = command({
  name: 'verify',
  summary: 'check an export bundle and its witness cosignatures offline against the CA certificate; exit 1 naming the first bad seq',
  usage: 'FILE --ca ca.pem --node ID [--witness FILE] [--crl crl.pem] [--allow-unwitnessed] [--json]',
  help: [
    '  FILE                 the NDJSON bundle (- for stdin)',
    '  --ca FILE            the provincial CA certificate(s), PEM',
    '  --node ID            the node whose log this must be (430000 for the hub); another one fails ERR_AUDIT_UNTRUSTED_SIGNER',
    "  --witness FILE       the witness's records of the heads it cosigned (credit audit witness-export on the hub's",
    "                       store for a node's log, on a node's store for the hub's log): a root that differs at a",
    '                       witnessed size fails ERR_AUDIT_INCONSISTENT, a bundle ending before one ERR_AUDIT_TRUNCATED;',
    '                       a witness reset in it (a node restored from a backup, armed by the hub operator; the',
    '                       hub\'s log rolled back, armed by a node\'s operator) is printed as a WITNESS BREAK line',
    '                       with the operator\'s reason and time (json: witnessBreaks)',
    '  --crl FILE           the CA\'s CRL (checked against --ca): a checkpoint or cosignature made after its',
    '                       certificate\'s revocation fails ERR_AUDIT_REVOKED_SIGNER (time = the witness\'s cosignature);',
    '                       so does a witness reset record by a certificate revoked before its time, or for keyCompromise',
    '  --allow-unwitnessed  report entries after the last cosigned checkpoint as a warning instead of failing',
    '                       ERR_AUDIT_UNWITNESSED (exit 1)',
    '  --json               print { ok, code?, seq?, reason?, entries, checkpoints, cosignatures, unwitnessed, signer, from, to, hash, … }',
  ].join('\n'),
  options: { ca: { type: 'string' }, node: { type: 'string' }, witness: { type: 'string' }, crl: { type: 'string' }, 'allow-unwitnessed': { type: 'boolean' }, json: { type: 'boolean' } },
  positionals: true,
  run: async ({ values, positionals, io }) => {
    const file = positionals[0];
    if (!file || positionals.length > 1) throw cliError('ERR_USAGE', 'give exactly one bundle FILE');
    const caPem = readText(requireString(values, 'ca'));
    const node = requireString(values, 'node');
    if (!/^\d{6}$/.test(node)) throw cliError('ERR_USAGE', `--node ${node} is not a 6-digit node id`);
    if (file !== '-' && !existsSync(file)) throw cliError('ERR_USAGE', `${file}: no such file`);
    let witnessed: WitnessedHead[] | undefined;
    let witnessBreaks: WitnessBreak[] | undefined;
    let revocations: Revocation[] | undefined;
    try {
      const crl = optionalString(values, 'crl');
      if (crl) revocations = (await parseCrl(readText(crl), { caCertPem: caPem })).entries;
      const w = optionalString(values, 'witness');
      if (w) ({ heads: witnessed, breaks: witnessBreaks } = readWitnessFile(readText(w), [caPem], revocations));
    } catch (e) {
      if (!isCreditError(e)) throw e;
      if (values.json === true) io.stdout(JSON.stringify({ ok: false, code: e.code, reason: e.message }) + '\n');
      else io.stderr(`error ${e.code}: ${e.message}\n`);
      return 1;
    }
    const lines = createInterface({ input: file === '-' ? process.stdin : createReadStream(file), crlfDelay: Infinity });
    const report = await verifyBundle(lines, caPem, {
      node, requireWitness: values['allow-unwitnessed'] !== true, ...(witnessed ? { witnessed } : {}), ...(witnessBreaks ? { witnessBreaks } : {}), ...(revocations ? { revocations } : {}),
    });
    lines.close();
    if (values.json === true) io.stdout(JSON.stringify(report) + '\n');
    else if (report.ok) io.stdout(summaryLine(report) + '\n');
    else io.stderr(`error ${report.code}: ${report.seq !== undefined ? `seq ${report.seq}: ` : ''}${report.reason}\n`);
    return report.ok ? 0 : 1;
  },
});

const proveCmd = command({
  name: 'prove',
  summary: 'print an RFC 6962 inclusion proof of one entry (JSON) against the latest signed checkpoint',
  usage: '--db URL_OR_FILE --seq N [--tree-size N] [--out FILE]',
  help: `${dbHelp}\n  --seq N           the entry to prove\n  --tree-size N     tree to prove it in (default: the latest checkpoint covering it, else the whole log)\n  --out FILE        write the proof there instead of stdout`,
  options: { ...dbOptions, seq: { type: 'string' }, 'tree-size': { type: 'string' }, out: { type: 'string' } },
  run: async (ctx) => {
    const seq = optionalInt(ctx.values, 'seq', 0);
    if (ctx.values.seq === undefined) throw cliError('ERR_USAGE', '--seq is required');
    const size = optionalSeq(ctx.values, 'tree-size');
    emit(ctx, await withDb(ctx.values, false, (db) => proveInclusion(db, seq, size)));
    return 0;
  },
});

const consistencyCmd = command({
  name: 'consistency',
  summary: 'print an RFC 6962 consistency proof between two signed tree sizes (JSON)',
  usage: '--db URL_OR_FILE --from SIZE1 --to SIZE2 [--out FILE]',
  help: `${dbHelp}\n  --from SIZE1      the older tree size\n  --to SIZE2        the newer tree size\n  --out FILE        write the proof there instead of stdout\nBoth sizes must have a signed checkpoint (credit audit checkpoints lists them), else ERR_AUDIT_UNSIGNED_SIZE.`,
  options: { ...dbOptions, from: { type: 'string' }, to: { type: 'string' }, out: { type: 'string' } },
  run: async (ctx) => {
    const from = optionalSeq(ctx.values, 'from');
    const to = optionalSeq(ctx.values, 'to');
    if (from === undefined || to === undefined) throw cliError('ERR_USAGE', '--from and --to are required');
    emit(ctx, await withDb(ctx.values, false, async (db) => {
      const signed = new Set((await checkpointsBetween(db, Math.min(from, to), Math.max(from, to))).map((c) => c.treeSize));
      const unsigned = [from, to].filter((n) => !signed.has(n));
      if (unsigned.length && from <= to && to <= (await lastSeq(db))) {
        throw auditError('ERR_AUDIT_UNSIGNED_SIZE', `no signed checkpoint at tree size ${unsigned.join(' and ')}: a proof between unsigned sizes cannot be tied to a signed root (credit audit checkpoints --db lists the signed sizes)`, { unsigned });
      }
      return proveConsistency(db, from, to);
    }));
    return 0;
  },
});

const verifyProofCmd = command({
  name: 'verify-proof',
  summary: 'check an inclusion or consistency proof (and, with --ca, its signed checkpoints)',
  usage: 'FILE|- [--ca ca.pem] [--json]',
  help: '  FILE       the proof JSON (- for stdin)\n  --ca FILE  also require the checkpoints to be signed by a certificate of this CA\n  --json     print { ok, code?, reason?, type, signedSizes }',
  options: { ca: { type: 'string' }, json: { type: 'boolean' } },
  positionals: true,
  run: async ({ values, positionals, io }) => {
    const file = positionals[0];
    if (!file || positionals.length > 1) throw cliError('ERR_USAGE', 'give exactly one proof FILE (or -)');
    const text = readText(file);
    const ca = optionalString(values, 'ca');
    const caPems = ca ? [readText(ca)] : undefined;
    let proof: unknown;
    try {
      proof = JSON.parse(text);
    } catch {
      proof = null;
    }
    try {
      const v = verifyProof(proof, caPems);
      if (caPems && v.signedSizes.length === 0) throw auditError('ERR_AUDIT_PROOF_INVALID', 'the proof carries no checkpoint signed by a certificate of this CA');
      io.stdout(values.json === true ? JSON.stringify({ ok: true, ...v }) + '\n' : `OK ${v.summary}\n`);
      return 0;
    } catch (e) {
      if (!isCreditError(e)) throw e;
      const code = e.code;
      if (values.json === true) io.stdout(JSON.stringify({ ok: false, code, reason: (e as Error).message }) + '\n');
      else io.stderr(`error ${code}: ${(e as Error).message}\n`);
      return 1;
    }
  },
});

const checkpointCmd = command({
  name: 'checkpoint',
  summary: 'sign a checkpoint of the log now (tree size, root hash, time)',
  usage: '--db URL_OR_FILE --key FILE --cert FILE [--chain FILE]',
  help: `${dbHelp}\n${signerHelp}`,
  options: { ...dbOptions, ...signerOptions },
  run: async ({ values, io }) => {
    const signer = signerFrom(values);
    if (!signer) throw cliError('ERR_USAGE', '--key and --cert are required');
    const cp = await withDb(values, true, async (db) => {
      const log = await openAuditLog(db, { signer, checkpointIntervalMs: 0 });
      try {
        return await log.checkpoint();
      } finally {
        await log.close();
      }
    }, signer);
    io.stdout(cp ? `checkpoint at tree size ${cp.treeSize}: root ${cp.rootHash}, ${cp.time}, signed by ${cp.nodeId}\n` : 'the log is empty: nothing to sign\n');
    return 0;
  },
});

const pruneCmd = command({
  name: 'prune',
  summary: 'remove entries older than a date (refused for anything younger than 180 days)',
  usage: '--db URL_OR_FILE --before DATE [--actor NAME] [--key FILE --cert FILE]',
  help: [
    dbHelp,
    '  --before DATE     remove the entries written before this date (YYYY-MM-DD or ISO time);',
    '                    refused (ERR_AUDIT_RETENTION) unless it lies at least 180 days back',
    '  --actor NAME      who prunes, recorded in the audit.prune event (default: cli:prune)',
    signerHelp,
    'Export the range first (credit audit export --to SEQ) and archive the bundle: the entries are',
    'gone afterwards; the log keeps their Merkle root so later checkpoints and proofs still verify.',
  ].join('\n'),
  options: { ...dbOptions, ...signerOptions, before: { type: 'string' }, actor: { type: 'string' } },
  run: async ({ values, io }) => {
    const raw = requireString(values, 'before');
    const before = new Date(/^\d{4}-\d{2}-\d{2}$/.test(raw) ? `${raw}T00:00:00.000Z` : raw);
    if (Number.isNaN(before.getTime())) throw cliError('ERR_USAGE', `--before ${raw} is not a date`);
    const signer = signerFrom(values);
    const r = await withDb(values, true, async (db) => {
      const log = await openAuditLog(db, { ...(signer ? { signer } : {}), checkpointIntervalMs: 0 });
      try {
        return await pruneAudit(db, log, { before, actor: optionalString(values, 'actor') ?? 'cli:prune' });
      } finally {
        await log.close();
      }
    }, signer);
    io.stdout(r.pruned === 0 ? 'nothing to prune\n' : `pruned ${r.pruned} entries (up to seq ${r.firstKept - 1}); archive root ${r.archiveRoot}; recorded as seq ${r.eventSeq}\n`);
    return 0;
  },
});

const checkpointsCmd = command({
  name: 'checkpoints',
  summary: 'list the signed checkpoints of a log (tree size, root, time, signer) and how many witness cosignatures each has',
  usage: '--db URL_OR_FILE [--json]',
  help: `${dbHelp}\n  --json            print [{ treeSize, rootHash, time, nodeId, signerFingerprint, cosignatures: [witness, …] }]`,
  options: { ...dbOptions, json: { type: 'boolean' } },
  run: async ({ values, io }) => {
    const rows = await withDb(values, false, async (db) => {
      const cps = await checkpointsBetween(db, 1, Number.MAX_SAFE_INTEGER);
      const cosigs = (await db.schema.hasTable('audit_cosignatures')) ? ((await db('audit_cosignatures').select('tree_size', 'witness')) as { tree_size: number | string; witness: string }[]) : [];
      return cps.map((c) => ({
        treeSize: c.treeSize, rootHash: c.rootHash, time: c.time, nodeId: c.nodeId, signerFingerprint: c.signerFingerprint,
        cosignatures: cosigs.filter((w) => Number(w.tree_size) === c.treeSize).map((w) => w.witness),
      }));
    });
    if (values.json === true) io.stdout(JSON.stringify(rows) + '\n');
    else {
      io.stdout('tree size  time                      node    signer            root              witnessed by\n');
      for (const r of rows) io.stdout(`${String(r.treeSize).padStart(9)}  ${r.time}  ${r.nodeId}  ${r.signerFingerprint.slice(0, 16)}  ${r.rootHash.slice(0, 16)}  ${r.cosignatures.join(',') || '-'}\n`);
      io.stdout(`${rows.length} signed checkpoints\n`);
    }
    return 0;
  },
});

export const auditGroup = group('audit', 'tamper-evident audit logs: export, verify offline, prove', [
  exportCmd,
  verifyCmd,
  checkpointsCmd,
  witnessExportCmd,
  proveCmd,
  consistencyCmd,
  verifyProofCmd,
  evidenceCommand,
  checkpointCmd,
  pruneCmd,
]);
