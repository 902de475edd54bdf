import { command, group } from './framework.js';
// Owner: protocol (issue 2). `credit catalog list`, `credit catalog example TYPE`
export const catalogGroup = group('catalog', 'the credit record catalog', [
  command({ name: 'list', summary: 'not yet implemented', usage: '', run: async ({ io }) => { io.stderr('not yet\n'); return 1; } }),
]);
