import { command, group } from './framework.js';
// Owner: certs (issue 3). `credit ca init|issue|token|revoke|crl|list`
export const caGroup = group('ca', 'the provincial certificate authority (hub operator)', [
  command({ name: 'init', summary: 'not yet implemented', usage: '--dir DIR', run: async ({ io }) => { io.stderr('not yet\n'); return 1; } }),
]);
