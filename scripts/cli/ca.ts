/** `credit ca init|issue|token|revoke|crl|list`: the provincial CA, run by the hub operator. */
import { readFileSync } from 'node:fs';
import {
  assertGrade,
  buildCrl,
  certInfo,
  createEnrolmentToken,
  enrol,
  initCaDir,
  isRevocationReason,
  issueCertificate,
  listCertificates,
  openCaDir,
  parseCrl,
  parseTtl,
  refuseHubRegister,
  revoke,
  REVOCATION_REASONS,
  withCaDir,
  type IssuedCertificate,
} from '../../certs/index.js';
import { certError } from '../../certs/errors.js';
import { initSm2CaDir, issueSm2NodeCert, issueSm2NodeCertForCsr, revokeSm2, sm2CrlOf } from '../../certs/sm2-ca-dir.js';
import { writeFileAtomic } from '../../certs/safe-files.js';
import { cliError } from '../errors.js';
import { command, group, optionalInt, optionalString, requireString, type CommandContext } from './framework.js';

const DAY_MS = 86_400_000;
const MAX_TOKEN_TTL_MS = 30 * DAY_MS;
const DIR_HELP = '  --dir DIR       the CA directory (ca.pem, ca.key, state.json); a hub\'s caDir is refused (ERR_CA_HUB_REGISTER)';

/** One register per CA: a hub's caDir is worked on with `credit hub …` only (its register is the hub database). */
function dirOf(values: CommandContext['values'], instead: string): string {
  const dir = requireString(values, 'dir');
  refuseHubRegister(dir, `\`${instead}\``);
  return dir;
}

function readInput(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw cliError('ERR_USAGE', `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function hostsOf(values: CommandContext['values']): string[] {
  const v = values['host'];
  return Array.isArray(v) ? v.filter((h): h is string => typeof h === 'string') : [];
}

const init = command({
  name: 'init',
  summary: 'create the provincial root CA in a new directory (never overwrites one)',
  usage: '--dir DIR [--cn NAME] [--days N] [--algorithm rsa|sm2]',
  help: [
    DIR_HELP + ' (created 0700; ca.key is written 0600)',
    '  --cn NAME       subject CN of the root (default "Hunan Provincial Public Credit CA")',
    '  --days N        validity of the root in days (default 3650)',
    '  --algorithm A   rsa (default: the root of the mutual-TLS certificates) or sm2: an SM2 root',
    '                  (sm2-ca.pem, sm2-ca.key) beside it for the nodes\' SM2 signing/encryption certificates',
  ].join('\n'),
  options: { dir: { type: 'string' }, cn: { type: 'string' }, days: { type: 'string' }, algorithm: { type: 'string' } },
  run: async ({ values, io }) => {
    const dir = requireString(values, 'dir');
    const cn = optionalString(values, 'cn');
    const algorithm = optionalString(values, 'algorithm') ?? 'rsa';
    if (algorithm !== 'rsa' && algorithm !== 'sm2') throw cliError('ERR_USAGE', `--algorithm must be rsa or sm2, not ${algorithm}`);
    if (algorithm === 'sm2') {
      const made = initSm2CaDir(dir, { days: optionalInt(values, 'days', 3650), ...(cn === undefined ? {} : { cn }) });
      io.stdout(`SM2 CA created: ${made.certPath} (give it to every node), ${made.keyPath} (0600, keep offline)\n`);
      io.stdout('check a node certificate with: openssl verify -vfyopt distid:1234567812345678 -CAfile sm2-ca.pem NODE-sm2.pem\n');
      return 0;
    }
    const { certPem, certPath, keyPath } = await initCaDir(dir, { days: optionalInt(values, 'days', 3650), ...(cn === undefined ? {} : { cn }) });
    const info = certInfo(certPem);
    io.stdout(`CA created: ${certPath} (give it to every node), ${keyPath} (0600, keep offline)\n`);
    io.stdout(`valid until ${info.notAfter.toISOString()}, SHA-256 fingerprint ${info.fingerprint}\n`);
    return 0;
  },
});

const issue = command({
  name: 'issue',
  summary: "sign a node's CSR: a certificate whose CN is the CSR's node id, for mutual TLS and envelope signatures",
  usage: '--dir DIR --csr FILE --out FILE [--days N] [--host NAME]… [--token TOKEN]',
  help: [
    DIR_HELP,
    '  --csr FILE      the node\'s PKCS#10 request (credit node keygen makes node.csr)',
    '  --out FILE      where to write the certificate (PEM)',
    '  --days N        validity in days (default 365)',
    '  --host NAME     extra subjectAltName: DNS name or IP, repeatable (localhost and 127.0.0.1 are always in)',
    '  --token TOKEN   redeem an enrolment token from `credit ca token` for this node (records its grade)',
  ].join('\n'),
  options: { dir: { type: 'string' }, csr: { type: 'string' }, out: { type: 'string' }, days: { type: 'string' }, host: { type: 'string', multiple: true }, token: { type: 'string' } },
  run: async ({ values, io }) => {
    const dir = dirOf(values, 'credit hub token --config HUB.json --node ID --grade N`, then the node enrols itself with `credit node init … --token T');
    const csrPem = readInput(requireString(values, 'csr'), 'CSR');
    const out = requireString(values, 'out');
    const days = optionalInt(values, 'days', 365);
    const hosts = hostsOf(values);
    const token = optionalString(values, 'token');
    const cert: IssuedCertificate = await withCaDir(dir, (ca) => (token === undefined ? issueCertificate(ca, csrPem, { days, hosts }) : enrol(ca, { token, csrPem, days, hosts })));
    writeFileAtomic(out, cert.certPem, 0o644);
    io.stdout(`issued ${cert.serial} for node ${cert.nodeId}, valid until ${cert.notAfter.toISOString()}: ${out}\n`);
    return 0;
  },
});

const token = command({
  name: 'token',
  summary: 'make a one-time enrolment token for a node (printed alone on stdout; expiry on stderr)',
  usage: '--dir DIR --node ID --grade 1-4 [--ttl 24h]',
  help: [
    DIR_HELP + ' (only the SHA-256 of the token is stored there)',
    '  --node ID       the node id the token may enrol (6-digit division code, e.g. 430100)',
    '  --grade N       the node\'s protection grade (等保 level 1–4)',
    '  --ttl DURATION  lifetime: 900s, 30m, 24h, 7d (default 24h, at most 30d)',
  ].join('\n'),
  options: { dir: { type: 'string' }, node: { type: 'string' }, grade: { type: 'string' }, ttl: { type: 'string' } },
  run: async ({ values, io }) => {
    const dir = dirOf(values, 'credit hub token --config HUB.json --node ID --grade N');
    const nodeId = requireString(values, 'node');
    const gradeText = requireString(values, 'grade');
    const grade = assertGrade(/^\d+$/.test(gradeText) ? Number(gradeText) : gradeText);
    const ttlText = optionalString(values, 'ttl') ?? '24h';
    const ttlMs = parseTtl(ttlText);
    if (ttlMs === undefined || ttlMs > MAX_TOKEN_TTL_MS) throw cliError('ERR_USAGE', `--ttl must be like 30m, 24h or 7d, at most 30d; got ${JSON.stringify(ttlText)}`);
    const made = await withCaDir(dir, (ca) => createEnrolmentToken(ca, { nodeId, grade, ttlMs }));
    io.stdout(`${made.token}\n`);
    io.stderr(`enrolment token for node ${nodeId} (grade ${grade}): single use, expires ${made.expiresAt.toISOString()}\n`);
    return 0;
  },
});

const revokeCmd = command({
  name: 'revoke',
  summary: 'revoke one certificate (--serial) or every active certificate of a node (--node)',
  usage: '--dir DIR (--serial HEX | --node ID) --reason keyCompromise|superseded|cessationOfOperation',
  help: [
    DIR_HELP,
    '  --serial HEX    the certificate serial (as `credit ca list` or `openssl x509 -serial` shows it)',
    '  --node ID       revoke every active certificate of this node id',
    `  --reason R      ${REVOCATION_REASONS.join(' | ')}`,
    'Then publish the change: credit ca crl --dir DIR --out crl.pem',
  ].join('\n'),
  options: { dir: { type: 'string' }, serial: { type: 'string' }, node: { type: 'string' }, reason: { type: 'string' } },
  run: async ({ values, io }) => {
    const dir = dirOf(values, 'credit hub revoke --config HUB.json --node ID');
    const serial = optionalString(values, 'serial');
    const nodeId = optionalString(values, 'node');
    if ((serial === undefined) === (nodeId === undefined)) throw cliError('ERR_USAGE', 'give exactly one of --serial HEX or --node ID');
    const reason = requireString(values, 'reason');
    if (!isRevocationReason(reason)) throw certError('ERR_REVOCATION_REASON', `--reason must be ${REVOCATION_REASONS.join(', ')}; got ${JSON.stringify(reason)}`);
    const target = serial !== undefined ? { serial } : { nodeId: nodeId! };
    const revoked = await withCaDir(dir, (ca) => revoke(ca, { ...target, reason }));
    for (const s of revoked) io.stdout(`revoked ${s} (${reason})\n`);
    if (revoked.length === 0) io.stderr(`${serial} was already revoked; nothing changed\n`);
    else io.stderr('publish it: credit ca crl --dir DIR --out crl.pem\n');
    return 0;
  },
});

const crl = command({
  name: 'crl',
  summary: 'write the X.509 v2 CRL (PEM) of every revoked, unexpired certificate, signed by the CA',
  usage: '--dir DIR --out FILE [--days N]',
  help: [DIR_HELP, '  --out FILE      where to write the CRL (PEM, -----BEGIN X509 CRL-----)', '  --days N        nextUpdate = now + N days (default 7): publish a new CRL before then'].join('\n'),
  options: { dir: { type: 'string' }, out: { type: 'string' }, days: { type: 'string' } },
  run: async ({ values, io }) => {
    const dir = dirOf(values, 'credit hub crl --config HUB.json --out FILE');
    const out = requireString(values, 'out');
    const nextUpdateDays = optionalInt(values, 'days', 7);
    const ca = await openCaDir(dir);
    const pem = await buildCrl(ca, { nextUpdateDays });
    const parsed = await parseCrl(pem, { caCertPem: ca.certPem });
    writeFileAtomic(out, pem, 0o644);
    io.stdout(`CRL with ${parsed.revoked.size} revoked certificate(s), next update ${parsed.nextUpdate?.toISOString()}: ${out}\n`);
    return 0;
  },
});

const list = command({
  name: 'list',
  summary: 'list issued certificates: node id, serial, expiry, status',
  usage: '--dir DIR [--json]',
  help: [DIR_HELP, '  --json          one JSON array instead of the table'].join('\n'),
  options: { dir: { type: 'string' }, json: { type: 'boolean' } },
  run: async ({ values, io }) => {
    const ca = await openCaDir(dirOf(values, 'credit hub nodes --config HUB.json'));
    const rows = await listCertificates(ca);
    if (values['json'] === true) {
      io.stdout(`${JSON.stringify(rows, null, 2)}\n`);
      return 0;
    }
    const table = [
      ['NODE', 'SERIAL', 'NOT AFTER', 'STATUS', 'GRADE', 'REVOKED'],
      ...rows.map((r) => [r.nodeId, r.serial, r.notAfter, r.status, r.grade === undefined ? '-' : String(r.grade), r.revokedAt ? `${r.revokedAt} ${r.reason ?? ''}` : '-']),
    ];
    const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
    for (const row of table) io.stdout(`${row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
    if (rows.length === 0) io.stderr('no certificates issued yet\n');
    return 0;
  },
});

const sm2Issue = command({
  name: 'sm2-issue',
  summary: "issue a node's SM2 signing/encryption certificate (CN = node id) from the SM2 root",
  usage: '--dir DIR --node ID (--csr FILE | --public-key FILE) --out FILE [--days N] [--hub]',
  help: [
    DIR_HELP,
    '  --node ID          the node id the certificate is for (its CN); with --csr the request\'s CN must be this id',
    '  --csr FILE         the node\'s SM2 PKCS#10 request (proof of possession; CN = node id), made on the node with',
    '                     openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:SM2 -out sm2.key',
    '                     openssl req -new -key sm2.key -sm3 -sigopt distid:1234567812345678 -subj /CN=430100 -out sm2.csr',
    '  --public-key FILE  without --csr: the node\'s SM2 public key (openssl pkey -in sm2.key -pubout);',
    '                     no proof of possession: receive it over an authenticated channel',
    '  --out FILE         where to write the certificate (PEM)',
    '  --days N           validity in days (default 365)',
    '  --hub              allow node id 430000 (the hub); refused without it',
  ].join('\n'),
  options: { dir: { type: 'string' }, csr: { type: 'string' }, node: { type: 'string' }, 'public-key': { type: 'string' }, out: { type: 'string' }, days: { type: 'string' }, hub: { type: 'boolean' } },
  run: async ({ values, io }) => {
    const dir = dirOf(values, 'credit ca sm2-issue');
    const csrPath = optionalString(values, 'csr');
    const nodeId = requireString(values, 'node');
    const out = requireString(values, 'out');
    const days = optionalInt(values, 'days', 365);
    const hub = values['hub'] === true;
    const cert = csrPath === undefined
      ? issueSm2NodeCert(dir, nodeId, readInput(requireString(values, 'public-key'), 'public key'), { days, hub })
      : issueSm2NodeCertForCsr(dir, readInput(csrPath, 'CSR'), { nodeId, days, hub });
    writeFileAtomic(out, cert.certPem, 0o644);
    io.stdout(`issued SM2 certificate ${cert.serial} for CN ${nodeId}, valid until ${cert.notAfter.toISOString()}: ${out}\n`);
    return 0;
  },
});

const sm2Revoke = command({
  name: 'sm2-revoke',
  summary: 'revoke an SM2 certificate by serial (it is listed in the next `credit ca sm2-crl`)',
  usage: '--dir DIR --serial HEX',
  help: [DIR_HELP, '  --serial HEX    the serial `credit ca sm2-issue` printed'].join('\n'),
  options: { dir: { type: 'string' }, serial: { type: 'string' } },
  run: async ({ values, io }) => {
    const dir = dirOf(values, 'credit ca sm2-revoke');
    const serial = requireString(values, 'serial');
    revokeSm2(dir, serial);
    io.stdout(`revoked SM2 certificate ${serial}\n`);
    return 0;
  },
});

const sm2Crl = command({
  name: 'sm2-crl',
  summary: 'write the SM2 CRL (PEM), signed SM2-with-SM3',
  usage: '--dir DIR --out FILE [--openssl]',
  help: [DIR_HELP, '  --out FILE      where to write the CRL', '  --openssl       sign with an empty ID: OpenSSL 3.0 checks SM2 CRL signatures only that way (default: ID 1234567812345678, GM/T 0015)'].join('\n'),
  options: { dir: { type: 'string' }, out: { type: 'string' }, openssl: { type: 'boolean' } },
  run: async ({ values, io }) => {
    const dir = dirOf(values, 'credit ca sm2-crl');
    const out = requireString(values, 'out');
    writeFileAtomic(out, sm2CrlOf(dir, { opensslCompatible: values['openssl'] === true }), 0o644);
    io.stdout(`SM2 CRL written: ${out}\n`);
    return 0;
  },
});

export const caGroup = group('ca', 'the provincial certificate authority (hub operator)', [init, issue, token, revokeCmd, crl, list, sm2Issue, sm2Revoke, sm2Crl]);
