import { command, group } from './framework.js';
// Owner: protocol (issue 2). `credit id check CODE…`
export const idGroup = group('id', 'check identifiers (USCC, resident ID)', [
  command({ name: 'check', summary: 'not yet implemented', usage: 'CODE…', positionals: true, run: async ({ io }) => { io.stderr('not yet\n'); return 1; } }),
]);
