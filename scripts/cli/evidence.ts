/**
 * `credit audit evidence`: the evidence package of one envelope (audit/evidence-package.ts).
 *   credit audit evidence --config F --envelope ID --out FILE [--with FILE]
 *     this side's signed half from the store the config names (a node's or the hub's), plus the
 *     halves in --with (a half or package the other side produced with the same command);
 *   credit audit evidence verify FILE --ca ca.pem [--one-side]
 *     offline: bytes, signatures, proofs, cosignatures, pairing, both sides present.
 */
import { writeFileSync } from 'node:fs';
import { splitPemCerts } from '../../audit/crypto.js';
import { buildHalf, packageText, type SignedHalf } from '../../audit/evidence-package.js';
import { readPackage, verifyPackage } from '../../audit/evidence-package-verify.js';
import { evidenceError } from '../../audit/evidence-errors.js';
import { cliError } from '../errors.js';
import { readFileOrUsage } from './exchange.js';
import { withSide } from './exchange-side.js';
import { command, optionalString, requireString, type CommandContext } from './framework.js';

async function produce(ctx: CommandContext): Promise<number> {
  const { values, io } = ctx;
  const configFile = requireString(values, 'config');
  const id = requireString(values, 'envelope');
  const out = requireString(values, 'out');
  const withFile = optionalString(values, 'with');
  const others: SignedHalf[] = [];
  if (withFile) {
    const { pkg, problems } = readPackage(readFileOrUsage(withFile, '--with'));
    if (!pkg) throw evidenceError('ERR_EVIDENCE_MALFORMED', `--with ${withFile}: ${problems[0]!.message}`);
    if (pkg.envelopeId !== id) throw evidenceError('ERR_EVIDENCE_MALFORMED', `--with ${withFile} is evidence of envelope ${pkg.envelopeId}, not ${id}`);
    others.push(...pkg.halves);
  }
  const mine = await withSide(configFile, async (side) => buildHalf({ ...side, crlPem: await side.crlPem() }, id));
  if (mine.half.crl === null) {
    io.stderr(`warning ERR_EVIDENCE_REVOCATION_UNCHECKED: ${mine.half.side} holds no CRL, so its half carries none and verifies as not revocation-checked; start the node so it fetches one from the hub (GET /v1/crl, on SM GET /v1/crl/sm2), then make the half again\n`);
  }
  const halves = [mine, ...others.filter((h) => h.half.side !== mine.half.side)];
  writeFileSync(out, packageText(id, halves));
  const missing = halves.length < 2 ? ` — the other side's half is not in it yet: its operator runs \`credit audit evidence --config <its config> --envelope ${id} --out half.json\`, then run this again with --with half.json` : '';
  io.stdout(`evidence package of envelope ${id} written to ${out}: half of ${halves.map((h) => h.half.side).join(' and ')}${missing}\n`);
  return 0;
}

async function verify(ctx: CommandContext, file: string): Promise<number> {
  const { values, io } = ctx;
  const caFile = requireString(values, 'ca');
  const caCertPems = splitPemCerts(readFileOrUsage(caFile, '--ca'));
  if (caCertPems.length === 0) throw cliError('ERR_USAGE', `--ca ${caFile} holds no PEM certificate`);
  const v = await verifyPackage(readFileOrUsage(file, 'evidence package'), caCertPems, { oneSide: values['one-side'] === true });
  if (v.envelopeId) io.stdout(`evidence package of envelope ${v.envelopeId}: halves of ${v.sides.join(', ')}\n`);
  for (const l of v.lines) io.stdout(`  ${l}\n`);
  for (const n of v.notes) io.stdout(`note: ${n}\n`);
  for (const p of v.problems) io.stdout(`${p.code}${p.id ? ` envelope ${p.id}` : ''}: ${p.message}\n`);
  if (v.problems.length > 0) {
    io.stderr(`error ${v.problems[0]!.code}: evidence package FAILED with ${v.problems.length} problem(s) (${[...new Set(v.problems.map((p) => p.code))].join(', ')})\n`);
    return 1;
  }
  io.stdout('OK: signed by both sides, every envelope signature and audit proof verifies\n');
  return 0;
}

export const evidenceCommand = command({
  name: 'evidence',
  summary: "one envelope's evidence package (its evidence, its receipt, both sides' audit proofs, certificates, CRL); or `evidence verify FILE`",
  usage: '--config FILE --envelope ID --out FILE [--with FILE]  |  verify FILE --ca ca.pem [--one-side]',
  help: [
    '  --config FILE    a node config or the hub config: this side\'s half comes from its store, signed with its key',
    '  --envelope ID    the envelope (batch, query, distribution … id; a batch\'s receipt comes with it)',
    '  --out FILE       the package to write (canonical JSON, docs/exchange-log.md)',
    '  --with FILE      a half or package of the other side (made by its operator with this same command) to include',
    '  verify FILE      check a package offline: exits 1 on any problem, each printed as "CODE envelope ID: why"',
    '  --ca FILE        the provincial CA certificate (PEM)',
    '  --one-side       accept a package with one side\'s half only (the missing half is noted, not a failure)',
  ].join('\n'),
  options: { config: { type: 'string' }, envelope: { type: 'string' }, out: { type: 'string' }, with: { type: 'string' }, ca: { type: 'string' }, 'one-side': { type: 'boolean' } },
  positionals: true,
  run: async (ctx) => {
    const [sub, file, ...rest] = ctx.positionals;
    if (sub === undefined) return produce(ctx);
    if (sub !== 'verify' || !file || rest.length > 0) throw cliError('ERR_USAGE', 'use `credit audit evidence --config F --envelope ID --out FILE` or `credit audit evidence verify FILE --ca ca.pem`');
    return verify(ctx, file);
  },
});
