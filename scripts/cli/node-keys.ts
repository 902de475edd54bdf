/** `credit node keygen`: the node's key (0600, never leaves the node) and its CSR for the hub operator. */
import { writeNodeKeys } from '../../certs/index.js';
import { command, requireString, type Command } from './framework.js';

const keygen = command({
  name: 'keygen',
  summary: "make the node's RSA key and a certificate signing request whose subject CN is the node id",
  usage: '--node ID --out DIR',
  help: [
    '  --node ID   the node id: 6-digit administrative division code (430100 长沙市; the hub is 430000)',
    '  --out DIR   writes DIR/node.key (0600; refuses to replace an existing one) and DIR/node.csr',
    'Send node.csr to the hub operator (credit ca issue), or to the hub with an enrolment token.',
  ].join('\n'),
  options: { node: { type: 'string' }, out: { type: 'string' } },
  run: async ({ values, io }) => {
    const { keyPath, csrPath } = await writeNodeKeys(requireString(values, 'out'), requireString(values, 'node'));
    io.stdout(`${keyPath} (private key, 0600)\n${csrPath} (send this to the hub operator)\n`);
    return 0;
  },
});

export const nodeKeyCommands: Command[] = [keygen];
