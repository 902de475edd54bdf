import { command, type Command } from './framework.js';
// Owner: certs (issue 3). `credit node keygen`
export const nodeKeyCommands: Command[] = [
  command({ name: 'keygen', summary: 'not yet implemented', usage: '--node ID --out DIR', run: async ({ io }) => { io.stderr('not yet\n'); return 1; } }),
];
