/**
 * `credit exchange export|verify`: the signed exchange log. export writes the evidence a node's or
 * the hub's store kept of every envelope it sent or accepted (the config says which: a hub config
 * has "caDir"); verify checks such a file offline with only the CA certificate (and a CRL):
 * every signature, every signer, and each batch paired with its receipt. docs/exchange-log.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { evidenceStore } from '../../audit/evidence-store.js';
import { readExchangeLog, toExchangeNdjson } from '../../audit/evidence-log.js';
import { verifyExchangeLog, type EvidenceTrust } from '../../audit/evidence-verify.js';
import { parseCrl, type ParsedCrl } from '../../certs/crl.js';
import { protocolError } from '../../protocol/errors.js';
import { splitPemCerts } from '../../audit/crypto.js';
import { cliError } from '../errors.js';
import { withSide } from './exchange-side.js';
import { command, group, optionalString, requireString, type CommandContext } from './framework.js';

/** --from/--to: a date (UTC day, whole) or an ISO time. */
function timeBound(values: CommandContext['values'], name: 'from' | 'to'): string | undefined {
  const v = optionalString(values, name);
  if (v === undefined) return undefined;
  if (/^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(v))) return name === 'from' ? `${v}T00:00:00.000Z` : `${v}T23:59:59.999Z`;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw cliError('ERR_USAGE', `--${name} must be a date (2026-12-01) or an ISO time (2026-12-01T08:00:00Z)`);
  return d.toISOString();
}

export function readFileOrUsage(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw cliError('ERR_USAGE', `${what} ${path} cannot be read: ${(e as Error).message}`);
  }
}

/**
 * --ca (one or more PEM certificates) and --crl (checked to be signed by one of them: ERR_CRL_INVALID
 * otherwise; and current, nextUpdate not before `now`: ERR_CRL_STALE otherwise) as verification trust.
 */
export async function trustFrom(values: CommandContext['values'], now = new Date()): Promise<EvidenceTrust> {
  const caFile = requireString(values, 'ca');
  const caCertPems = splitPemCerts(readFileOrUsage(caFile, '--ca'));
  if (caCertPems.length === 0) throw cliError('ERR_USAGE', `--ca ${caFile} holds no PEM certificate`);
  const crlFile = optionalString(values, 'crl');
  if (!crlFile) return { caCertPems };
  // the CRL of any root in --ca: the RSA root's, or the SM2 root's (GET /v1/crl/sm2) for a log of SM envelopes
  const text = readFileOrUsage(crlFile, '--crl');
  let firstError: unknown;
  for (const caCertPem of caCertPems) {
    let crl: ParsedCrl;
    try {
      crl = await parseCrl(text, { caCertPem });
    } catch (e) {
      firstError ??= e;
      continue;
    }
    // a CRL past its nextUpdate may miss later revocations: refused, as the node refuses one (protocol/ca-trust.ts)
    if (crl.nextUpdate === undefined || crl.nextUpdate.getTime() < now.getTime()) {
      throw protocolError('ERR_CRL_STALE', `--crl ${crlFile} is past its nextUpdate (${crl.nextUpdate?.toISOString() ?? 'none'}; now ${now.toISOString()}): revocations after it could be missing; fetch a current one (\`credit hub crl\`, GET /v1/crl, or GET /v1/crl/sm2 for SM envelopes)`, { nextUpdate: crl.nextUpdate?.toISOString() ?? null, at: now.toISOString() });
    }
    return { caCertPems, revoked: crl.entries };
  }
  throw firstError;
}

const exportCmd = command({
  name: 'export',
  summary: 'write the signed exchange log of a node or the hub (NDJSON: header, digest, signature, signer certificate of every envelope)',
  usage: '--config FILE --out FILE [--from TIME] [--to TIME]',
  help: [
    '  --config FILE  a node config, or the hub config (it has "caDir"): the store it names is read, never changed',
    '  --out FILE     where to write the log (NDJSON, docs/exchange-log.md)',
    '  --from TIME    only envelopes recorded at or after TIME (2026-12-01 = that UTC day from 00:00, or an ISO time)',
    '  --to TIME      only envelopes recorded at or before TIME (a date: to the end of that UTC day)',
    '                 an answer and the envelope it answers are always exported together, wherever the range cuts',
  ].join('\n'),
  options: { config: { type: 'string' }, out: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } },
  run: async ({ values, io }) => {
    const configFile = requireString(values, 'config');
    const out = requireString(values, 'out');
    const from = timeBound(values, 'from');
    const to = timeBound(values, 'to');
    const { text, count, node } = await withSide(configFile, async (side) => {
      const list = await evidenceStore.list(side.db, side.table, { ...(from ? { from } : {}), ...(to ? { to } : {}) });
      const head = { node: side.nodeId, role: side.role, exportedAt: new Date().toISOString(), from: from ?? null, to: to ?? null };
      return { text: toExchangeNdjson(head, list), count: list.length, node: side.nodeId };
    });
    writeFileSync(out, text);
    io.stdout(`exchange log of ${node}: ${count} envelope(s) written to ${out}\n`);
    return 0;
  },
});

const verifyCmd = command({
  name: 'verify',
  summary: 'verify an exchange log offline: every signature and signer against the CA (and CRL), each batch paired with its receipt',
  usage: 'FILE --ca ca.pem [--crl crl.pem]',
  help: [
    '  FILE          an exchange log written by `credit exchange export`',
    '  --ca FILE     the provincial CA certificate (PEM)',
    '  --crl FILE    the hub\'s CRL (PEM, `credit hub crl` or GET /v1/crl; for SM envelopes with --ca sm2-ca.pem, `credit hub crl --sm2`',
    '                or GET /v1/crl/sm2), signed by a root in --ca: an envelope signed or recorded at or after',
    '                its signer\'s revocation time fails ERR_EXCHANGE_REVOKED_SIGNER; a CRL past its nextUpdate is refused (ERR_CRL_STALE)',
    '  Prints every problem as "CODE envelope ID: why" and exits 1 when there is any.',
  ].join('\n'),
  options: { ca: { type: 'string' }, crl: { type: 'string' } },
  positionals: true,
  run: async ({ values, positionals, io }) => {
    const [file, ...extra] = positionals;
    if (!file || extra.length > 0) throw cliError('ERR_USAGE', 'give exactly one exchange log file');
    const trust = await trustFrom(values);
    const read = readExchangeLog(readFileOrUsage(file, 'exchange log'));
    const verdict = read.log ? await verifyExchangeLog(read.log, trust) : null;
    const problems = [...read.problems, ...(verdict?.problems ?? [])];
    if (verdict) {
      const types = Object.entries(verdict.byType).sort(([a], [b]) => a.localeCompare(b)).map(([t, n]) => `${t} ${n}`).join(', ') || 'none';
      io.stdout(`exchange log of ${verdict.node} (${verdict.role}): ${verdict.envelopes} envelope(s) (${types}); ${verdict.paired} paired with their answer\n`);
      for (const n of verdict.notes) io.stdout(`note: ${n}\n`);
    }
    for (const p of problems) io.stdout(`${p.code}${p.id ? ` envelope ${p.id}` : ''}: ${p.message}\n`);
    if (problems.length > 0) {
      const codes = [...new Set(problems.map((p) => p.code))].join(', ');
      io.stderr(`error ${problems[0]!.code}: exchange log FAILED with ${problems.length} problem(s) (${codes})\n`);
      return 1;
    }
    io.stdout('OK: every signature verifies and every batch has its receipt\n');
    return 0;
  },
});

export const exchangeGroup = group('exchange', 'the signed exchange log: export it from a node or the hub, verify it offline', [exportCmd, verifyCmd]);
