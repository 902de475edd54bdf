/**
 * `credit node report`: fetches a subject's signed credit report from the node's API
 * (GET /v1/subjects/:code/report, as the token's user: role, clearance, purpose apply), checks it
 * against the node's CA (DATADIR/exchange/ca.pem) and writes FILE.pdf or FILE.json;
 * `credit node report verify FILE --ca ca.pem` checks one offline (docs/credit-report.md).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { trustFromCa } from '../../certs/trust.js';
import { openReport, type OpenedReport } from '../../protocol/credit-report.js';
import { CreditError } from '../../protocol/errors.js';
import { openReportPdf } from '../../protocol/report-pdf-seal.js';
import { loadConfig } from '../../node/config.js';
import { nodeError } from '../../node/errors.js';
import { exchangePaths } from '../../node/exchange/files.js';
import { cliError } from '../errors.js';
import { command, optionalString, requireString, type CommandContext } from './framework.js';

/** Opens a report file (a sealed PDF or a signed JSON document) against the CA certificate (and its CRL: a revoked signer fails). */
export async function verifyReportFile(file: string, caPem: string, crlPem?: string): Promise<OpenedReport> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw cliError('ERR_USAGE', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const trust = await trustFromCa({ caCertPem: caPem, ...(crlPem !== undefined ? { crlPem } : {}) });
  return bytes.subarray(0, 5).toString('latin1') === '%PDF-' ? openReportPdf(bytes, trust) : openReport(bytes, trust);
}

function summary(r: OpenedReport): string {
  const count = r.body.sections.reduce((n, s) => n + s.entries.length, 0);
  return `report ${r.body.reportNo} issued by node ${r.signerNodeId} at ${r.body.issuedAt} about ${r.body.subject.code}${r.body.subject.name ? ` (${r.body.subject.name})` : ''}: ${count} record(s); 验证码 ${r.verificationCode}`;
}

async function verify({ positionals, values, io }: CommandContext): Promise<number> {
  const file = positionals[1];
  if (!file || positionals.length > 2) throw cliError('ERR_USAGE', 'usage: credit node report verify FILE.pdf|FILE.json --ca ca.pem');
  const caFile = requireString(values, 'ca');
  const crlFile = optionalString(values, 'crl');
  const opened = await verifyReportFile(file, readFileSync(caFile, 'utf8'), crlFile ? readFileSync(crlFile, 'utf8') : undefined);
  io.stdout(`verified: ${summary(opened)}\n`);
  return 0;
}

async function fetchReport({ values, io }: CommandContext): Promise<number> {
  const config = loadConfig(requireString(values, 'config'));
  const code = requireString(values, 'code');
  const out = requireString(values, 'out');
  const pdf = out.toLowerCase().endsWith('.pdf');
  if (!pdf && !out.toLowerCase().endsWith('.json')) throw cliError('ERR_USAGE', '--out must name a .pdf or a .json file');
  const token = optionalString(values, 'token') ?? process.env.CREDIT_TOKEN;
  if (!token) throw cliError('ERR_USAGE', '--token TOKEN (or CREDIT_TOKEN in the environment) is required: a token from `credit node token`');
  const host = config.listen.host === '0.0.0.0' || config.listen.host === '::' ? '127.0.0.1' : config.listen.host;
  const base = (optionalString(values, 'url') ?? `${config.listen.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${config.listen.port}`).replace(/\/+$/, '');
  const purpose = optionalString(values, 'purpose');
  const tlsCa = optionalString(values, 'tls-ca');
  const dispatcher = new Agent(tlsCa ? { connect: { ca: readFileSync(tlsCa) } } : {});
  let status: number;
  let body: Buffer;
  try {
    const res = await request(`${base}/v1/subjects/${encodeURIComponent(code)}/report${purpose ? `?purpose=${encodeURIComponent(purpose)}` : ''}`, {
      dispatcher, headers: { authorization: `Bearer ${token}`, accept: pdf ? 'application/pdf' : 'application/json' },
    });
    status = res.statusCode;
    body = Buffer.from(await res.body.arrayBuffer());
  } catch (e) {
    throw nodeError('ERR_REPORT_UNREACHABLE', `cannot reach the node at ${base}: ${(e as Error).message}`, { url: base });
  } finally {
    await dispatcher.close();
  }
  if (status !== 200) {
    let err: { code?: string; message?: string; details?: unknown } = {};
    try {
      err = JSON.parse(body.toString('utf8')) as typeof err;
    } catch {
      // not an error body
    }
    throw new CreditError(err.code ?? 'ERR_REPORT_UNREACHABLE', `the node answered ${status}: ${err.message ?? body.toString('utf8').slice(0, 200)}`, err.details);
  }
  writeFileSync(out, body);
  const caFile = optionalString(values, 'ca') ?? exchangePaths(config.dataDir).ca;
  const crlFile = optionalString(values, 'crl') ?? (optionalString(values, 'ca') ? undefined : exchangePaths(config.dataDir).crl);
  if (existsSync(caFile)) {
    const crlPem = crlFile && existsSync(crlFile) ? readFileSync(crlFile, 'utf8') : undefined;
    io.stdout(`wrote ${out}; verified: ${summary(await verifyReportFile(out, readFileSync(caFile, 'utf8'), crlPem))}\n`);
  } else {
    io.stdout(`wrote ${out} (not verified: no CA certificate at ${caFile}; run credit node report verify ${out} --ca ca.pem)\n`);
  }
  return 0;
}

export const nodeReportCommand = command({
  name: 'report',
  summary: "a subject's signed credit report (信用报告) as PDF or JSON from the node, or verify one offline",
  usage: '--config FILE --code CODE --out FILE.pdf|FILE.json [--token T] [--purpose P] [--url URL] [--tls-ca FILE]\n       credit node report verify FILE.pdf|FILE.json --ca ca.pem [--crl crl.pem]',
  help: [
    '  --config FILE    node config (where the node listens; its CA certificate checks the report)',
    '  --code CODE      the subject: USCC or resident ID',
    '  --out FILE       FILE.pdf (the sealed PDF) or FILE.json (the signed JSON document)',
    '  --token T        a token from `credit node token` (or CREDIT_TOKEN); its role and clearance decide what the report shows',
    '  --purpose P      why restricted (授权查询) records are read (audited with each release)',
    '  --url URL        the node, when not where the config says it listens',
    '  --tls-ca FILE    CA of the node\'s TLS certificate (https)',
    '  --ca FILE        the provincial CA certificate (default when fetching: DATADIR/exchange/ca.pem)',
    '  --crl FILE       the CA\'s CRL: a report signed by a revoked node fails (default when fetching: DATADIR/exchange/crl.pem, if there)',
    '  verify FILE --ca ca.pem [--crl crl.pem]   checks a report offline: signature, chain to the CA, every byte (docs/credit-report.md)',
  ].join('\n'),
  positionals: true,
  options: {
    config: { type: 'string' }, code: { type: 'string' }, out: { type: 'string' }, token: { type: 'string' }, purpose: { type: 'string' },
    url: { type: 'string' }, 'tls-ca': { type: 'string' }, ca: { type: 'string' }, crl: { type: 'string' },
  },
  run: async (ctx) => {
    if (ctx.positionals[0] === 'verify') return verify(ctx);
    if (ctx.positionals.length > 0) throw cliError('ERR_USAGE', `unknown argument ${ctx.positionals[0]}; see credit node report --help`);
    return fetchReport(ctx);
  },
});
