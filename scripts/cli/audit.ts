import { command, group } from './framework.js';
// Owner: audit (issue 4). `credit audit export|verify|prove|consistency|verify-proof|prune`
export const auditGroup = group('audit', 'tamper-evident audit logs: export, verify offline, prove', [
  command({ name: 'export', summary: 'not yet implemented', usage: '--db URL_OR_FILE --out FILE', run: async ({ io }) => { io.stderr('not yet\n'); return 1; } }),
]);
