/**
 * `credit node keygen` (the node's key and a CSR for the hub operator) and `credit node init`
 * (enrol with the hub using a one-time token: key, CSR, certificate, written to DATADIR/exchange/).
 */
import { readFileSync, statSync } from 'node:fs';
import { NODE_KEY_ALGORITHMS, writeNodeKeys, type NodeKeyAlgorithm } from '../../certs/index.js';
import { writeFileAtomic } from '../../certs/safe-files.js';
import { loadConfig } from '../../node/config.js';
import { cliError } from '../errors.js';
import { command, optionalString, requireString, type Command, type CommandContext } from './framework.js';

const ALGORITHM_HELP = [
  '  --algorithm A  p256 (default: EC P-256, suite CF1-ECDH-ES-A256KW-A256GCM-ES256; ~6× cheaper private-key',
  '                 operations) or rsa (RSA 2048, suite CF1-RSA-OAEP-256-A256GCM-PS256)',
];

/** --algorithm p256|rsa (default p256); ERR_USAGE for anything else. */
function keyAlgorithm(values: CommandContext['values']): NodeKeyAlgorithm {
  const a = optionalString(values, 'algorithm') ?? 'p256';
  if (!(NODE_KEY_ALGORITHMS as readonly string[]).includes(a)) throw cliError('ERR_USAGE', `--algorithm must be ${NODE_KEY_ALGORITHMS.join(' or ')}, not ${a}`);
  return a as NodeKeyAlgorithm;
}

const keygen = command({
  name: 'keygen',
  summary: "make the node's key (EC P-256, or RSA) and a certificate signing request whose subject CN is the node id",
  usage: '--node ID --out DIR [--algorithm p256|rsa]',
  help: [
    '  --node ID      the node id: 6-digit administrative division code (430100 长沙市; the hub is 430000)',
    '  --out DIR      writes DIR/node.key (0600; refuses to replace an existing one) and DIR/node.csr',
    ...ALGORITHM_HELP,
    'Send node.csr to the hub operator (credit ca issue), or to the hub with an enrolment token.',
  ].join('\n'),
  options: { node: { type: 'string' }, out: { type: 'string' }, algorithm: { type: 'string' } },
  run: async ({ values, io }) => {
    const algorithm = keyAlgorithm(values);
    const { keyPath, csrPath } = await writeNodeKeys(requireString(values, 'out'), requireString(values, 'node'), algorithm);
    io.stdout(`${keyPath} (private key, 0600)\n${csrPath} (send this to the hub operator)\n`);
    return 0;
  },
});

/** Sets `hub.url` in the node's JSON config file (other keys and the file mode are kept). */
export function setHubUrl(configFile: string, url: string): boolean {
  const raw = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  const hub = typeof raw.hub === 'object' && raw.hub !== null ? (raw.hub as Record<string, unknown>) : {};
  if (hub.url === url) return false;
  raw.hub = { ...hub, url };
  writeFileAtomic(configFile, JSON.stringify(raw, null, 2) + '\n', statSync(configFile).mode & 0o777);
  return true;
}

const init = command({
  name: 'init',
  summary: 'enrol this node with the provincial hub (one-time token) and connect it: keys and certificates in DATADIR/exchange/',
  usage: '--config FILE --hub URL --token TOKEN --ca CA.pem [--algorithm p256|rsa] [--sm2 [--sm2-ca SM2-CA.pem]]',
  help: [
    '  --config FILE  the node config (nodeId, dataDir); `hub.url` is set in it',
    '  --hub URL      the hub, e.g. https://hub.hunan.example:8443',
    '  --token TOKEN  the one-time enrolment token from the hub operator (`credit hub token`)',
    '  --ca FILE      the provincial CA certificate (from the hub operator): the only certificate the hub is checked against',
    ...ALGORITHM_HELP,
    '                 (init: when the config\'s hub.suites admits no EC suite but RSA, the default is rsa)',
    '  --sm2          also obtain an SM2 certificate (national suite CF1-SM2-SM4GCM-SM3): an SM2 key',
    '                 (node-sm2.key, 0600) and an SM2 request; implied when the config\'s hub.suites admits SM',
    '                 or its audit.hashAlg is sm3 (audit checkpoints signed with the SM2 key)',
    '  --sm2-ca FILE  the provincial SM2 root (from the hub operator): the hub\'s answer must name this one',
    'Makes a new key (DATADIR/exchange/node.key, 0600; it never leaves the node), sends a CSR with the',
    'token, checks the certificate the hub returns, and writes node.pem, ca.pem, hub.pem, enrolment.json.',
    'Then `credit node start` exchanges with the hub; the certificate is renewed automatically.',
  ].join('\n'),
  options: { config: { type: 'string' }, hub: { type: 'string' }, token: { type: 'string' }, ca: { type: 'string' }, algorithm: { type: 'string' }, sm2: { type: 'boolean' }, 'sm2-ca': { type: 'string' } },
  run: async ({ values, io }) => {
    const configFile = requireString(values, 'config');
    let algorithm = keyAlgorithm(values);
    const hubUrl = requireString(values, 'hub').replace(/\/$/, '');
    const token = requireString(values, 'token');
    const caFile = requireString(values, 'ca');
    if (!/^https:\/\/[^/?#]+$/.test(hubUrl)) throw cliError('ERR_USAGE', `--hub must be an https:// origin such as https://hub.example:8443; got ${JSON.stringify(hubUrl)}`);
    let caCertPem: string;
    try {
      caCertPem = readFileSync(caFile, 'utf8');
    } catch (e) {
      throw cliError('ERR_USAGE', `cannot read --ca ${caFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const config = loadConfig(configFile);
    const sm2CaFile = typeof values['sm2-ca'] === 'string' ? values['sm2-ca'] : undefined;
    let sm2CaCertPem: string | undefined;
    try {
      sm2CaCertPem = sm2CaFile === undefined ? undefined : readFileSync(sm2CaFile, 'utf8');
    } catch (e) {
      throw cliError('ERR_USAGE', `cannot read --sm2-ca ${sm2CaFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const { suiteAllowed, suitesForKeyType, SM_SUITE } = await import('../../protocol/suites.js');
    // no --algorithm: the key type the config's own hub.suites admits (EC P-256 first, then RSA)
    const policy = config.hub?.suites;
    if (optionalString(values, 'algorithm') === undefined && policy !== undefined && suitesForKeyType('ec-p256', policy).length === 0 && suitesForKeyType('rsa', policy).length > 0) algorithm = 'rsa';
    const sm2 = values.sm2 === true || sm2CaCertPem !== undefined || (config.hub?.suites !== undefined && suiteAllowed(SM_SUITE, config.hub.suites)) || config.audit?.hashAlg === 'sm3';
    const { enrollNode } = await import('../../node/exchange/enroll.js'); // undici loads only for this command
    const { enrolment, paths } = await enrollNode({ dataDir: config.dataDir, nodeId: config.nodeId, hubUrl, token, caCertPem, algorithm, timeoutMs: config.hub?.timeoutMs ?? 30_000, ...(sm2 ? { sm2, ...(sm2CaCertPem ? { sm2CaCertPem } : {}) } : {}) });
    const changed = setHubUrl(configFile, hubUrl);
    io.stdout(
      [
        `node ${enrolment.nodeId} enrolled with the hub at ${hubUrl} (grade ${enrolment.grade})`,
        `certificate serial ${enrolment.serial} (${algorithm === 'rsa' ? 'RSA' : 'EC P-256'}), valid until ${enrolment.notAfter}`,
        `${paths.key} (private key, 0600)`,
        `${paths.cert}, ${paths.ca}, ${paths.hub}, ${paths.enrolment}`,
        ...(sm2 ? [`${paths.sm2Key} (SM2 private key, 0600), ${paths.sm2Cert}, ${paths.sm2Ca}, ${paths.sm2Hub}`] : []),
        changed ? `${configFile}: hub.url set to ${hubUrl}` : `${configFile}: hub.url already ${hubUrl}`,
        '',
      ].join('\n'),
    );
    return 0;
  },
});

export const nodeKeyCommands: Command[] = [keygen, init];
