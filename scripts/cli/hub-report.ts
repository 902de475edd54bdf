/**
 * `credit hub report verify FILE --config hub.json`: the hub operator checks a credit report
 * (信用报告) presented to the province — a sealed PDF or the signed JSON — against the CA and the
 * hub's register of issued certificates, as POST /v1/reports/verify does (hub/report-verify.ts):
 * signature, every byte, chain to the CA, not revoked at the report's issuedAt.
 */
import { readFileSync } from 'node:fs';
import { loadHubConfig } from '../../hub/config.js';
import { openExistingHubStore } from '../../hub/admin-store.js';
import { openHubCa } from '../../hub/ca-store.js';
import { verifyPresentedReport } from '../../hub/report-verify.js';
import { CreditError } from '../../protocol/errors.js';
import { cliError } from '../errors.js';
import { command, requireString } from './framework.js';

export const hubReportCommand = command({
  name: 'report',
  summary: 'verify a credit report (信用报告) PDF or JSON a subject or third party presents',
  usage: 'verify FILE.pdf|FILE.json --config FILE [--json]',
  help: [
    '  verify FILE      the report as received (sealed PDF or signed JSON, docs/credit-report.md)',
    '  --config FILE    hub config (its CA and register of issued certificates)',
    '  --json           print the verification result as JSON (as POST /v1/reports/verify answers)',
  ].join('\n'),
  positionals: true,
  options: { config: { type: 'string' }, json: { type: 'boolean' } },
  run: async ({ values, positionals, io }) => {
    if (positionals[0] !== 'verify' || positionals.length !== 2) throw cliError('ERR_USAGE', 'usage: credit hub report verify FILE.pdf|FILE.json --config hub.json');
    const file = positionals[1]!;
    const config = loadHubConfig(requireString(values, 'config'));
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      throw cliError('ERR_USAGE', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const db = await openExistingHubStore(config);
    try {
      const r = await verifyPresentedReport(openHubCa(db, config.caDir), bytes, new Date());
      if (values.json === true) io.stdout(`${JSON.stringify(r, null, 2)}\n`);
      if (!r.valid) throw new CreditError(r.code!, r.message!);
      if (values.json !== true) {
        const revoked = r.signer!.revokedAt ? `; the signer's certificate was revoked later, at ${r.signer!.revokedAt} (${r.signer!.revocationReason ?? '-'})` : '';
        io.stdout(`verified: report ${r.reportNo} issued by node ${r.issuer!.nodeId} at ${r.issuedAt} about ${r.subject!.code}${r.subject!.name ? ` (${r.subject!.name})` : ''}: ${r.entries} record(s); 验证码 ${r.verificationCode}; signer certificate ${r.signer!.serial}${revoked}\n`);
      }
      return 0;
    } finally {
      await db.destroy();
    }
  },
});
