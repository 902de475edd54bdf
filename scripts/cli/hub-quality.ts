/**
 * `credit hub quality`: the province's data-quality indicators (docs/quality.md) from the hub's
 * aggregates, per node × 数据来源单位 × type, with the 市州 ranking; `credit hub quality register`
 * shows or replaces the register of expected nodes behind 互联互通率.
 */
import { readFileSync } from 'node:fs';
import { loadHubConfig } from '../../hub/config.js';
import { openExistingHubStore } from '../../hub/admin-store.js';
import { expectedNodes, provinceQuality, setExpectedNodes } from '../../hub/quality-service.js';
import { withOperatorAudit } from '../../audit/operator.js';
import { cliError } from '../errors.js';
import { command, optionalString, requireString } from './framework.js';
import { QUALITY_OUTPUT_HELP, QUALITY_OUTPUT_OPTIONS, qualityMonth, writeQuality } from './quality-output.js';

export const hubQualityCommand = command({
  name: 'quality',
  summary: 'data-quality indicators per node × 数据来源单位 × type and the 市州 ranking; `quality register` edits the expected nodes',
  usage: '--config FILE [--month YYYY-MM] [--node ID] [--json|--csv [--ranking]|--xlsx] [--out FILE]  |  register --config FILE [--set FILE.json | --reset]',
  help: [
    '  --config FILE    hub config',
    '  --node ID        one node only',
    QUALITY_OUTPUT_HELP,
    '  register         print the register of expected nodes (JSON [{code,name}]; default: Hunan 14 市州 + 122 县级);',
    '                   --set FILE replaces it (audited), --reset goes back to the shipped list',
  ].join('\n'),
  positionals: true,
  options: { config: { type: 'string' }, node: { type: 'string' }, set: { type: 'string' }, reset: { type: 'boolean' }, ...QUALITY_OUTPUT_OPTIONS },
  run: async (ctx) => {
    const { values, positionals, io } = ctx;
    const config = loadHubConfig(requireString(values, 'config'));
    if (positionals.length > 1 || (positionals[0] !== undefined && positionals[0] !== 'register')) throw cliError('ERR_USAGE', `unknown argument: ${positionals.join(' ')}`);
    const node = optionalString(values, 'node');
    if (node !== undefined && !/^\d{6}$/.test(node)) throw cliError('ERR_USAGE', `--node must be a 6-digit node id: ${node}`);
    const db = await openExistingHubStore(config);
    try {
      if (positionals[0] === 'register') {
        const set = optionalString(values, 'set');
        if (set !== undefined || values.reset === true) {
          let list: unknown = null;
          if (set !== undefined) {
            try {
              list = JSON.parse(readFileSync(set, 'utf8')) as unknown;
            } catch (e) {
              throw cliError('ERR_USAGE', `--set ${set}: not a readable JSON file (${(e as Error).message})`);
            }
          }
          await setExpectedNodes(db, list);
          const count = Array.isArray(list) ? list.length : 'default';
          await withOperatorAudit(db, (audit, actor) => audit.record({ action: 'quality.register', actor, actorNode: '430000', object: 'quality:expected-nodes', outcome: 'success', reason: `nodes=${count}` }));
        }
        const r = await expectedNodes(db);
        io.stdout(`${JSON.stringify(r.nodes, null, 2)}\n`);
        io.stderr(`${r.nodes.length} expected nodes (${r.source === 'operator' ? "the operator's register" : 'the shipped Hunan list'})\n`);
        return 0;
      }
      const month = qualityMonth(values);
      const report = await provinceQuality(db, { now: new Date(), ...(month ? { month } : {}), ...(node ? { node } : {}) });
      await writeQuality(report, ctx);
      return 0;
    } finally {
      await db.destroy();
    }
  },
});
