import { command } from './framework.js';

export const demoCommand = command({
  name: 'demo',
  summary: 'run a whole federation on this machine (CA, hub, three nodes) and show the exchange',
  usage: '[--out DIR] [--keep]',
  options: { out: { type: 'string' }, keep: { type: 'boolean' } },
  run: async ({ io }) => {
    io.stdout('The end-to-end demo arrives with the hub and exchange (issue 6); not yet available.\n');
    return 0;
  },
});
