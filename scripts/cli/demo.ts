import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { cliError } from '../errors.js';
import { command, optionalString } from './framework.js';

export const demoCommand = command({
  name: 'demo',
  summary: 'run a whole federation on this machine (CA, hub, three nodes) and show the exchange',
  usage: '[--out DIR] [--keep] [--suite sm]',
  help: [
    '  --out DIR  where the CA, hub, nodes, audit exports and summary.json go (default: a new temporary directory)',
    '  --keep     leave the federation running afterwards and print URLs and tokens to try with curl',
    '  --suite sm the national suite: SM2 root beside the RSA one, hub and nodes with suites ["SM"], every envelope CF1-SM2-SM4GCM-SM3,',
    '             every audit log sm3 (SM3 chain and tree, SM2 checkpoints and cosignatures; verified with sm2-ca.pem alone)',
  ].join('\n'),
  options: { out: { type: 'string' }, keep: { type: 'boolean' }, suite: { type: 'string' } },
  run: async ({ values, io }) => {
    const { runDemo } = await import('../demo/run-demo.js');
    const out = resolve(optionalString(values, 'out') ?? mkdtempSync(join(tmpdir(), 'credit-demo-')));
    if (existsSync(out) && readdirSync(out).length > 0) throw cliError('ERR_USAGE', `--out ${out} is not empty; give a new or empty directory`);
    io.stdout(`credit-federation demo — everything goes to ${out}\n`);
    const suite = optionalString(values, 'suite');
    if (suite !== undefined && suite !== 'sm') throw cliError('ERR_USAGE', `--suite takes sm (the national suite); got ${JSON.stringify(suite)}`);
    await runDemo({ out, keep: values.keep === true, log: (l) => io.stdout(l + '\n'), ...(suite === 'sm' ? { suite: 'sm' as const } : {}) });
    io.stdout('demo finished: every step passed\n');
    return 0;
  },
});
