/** `credit node quality`: the node's own data-quality indicators (docs/quality.md) from its aggregates. */
import { connect } from '../../audit/knex-connect.js';
import { migrateParts, storeLabel } from '../../audit/migration-plan.js';
import { probeStore } from '../../audit/start-checks.js';
import { loadConfig } from '../../node/config.js';
import { NODE_SCHEMA } from '../../node/migrations.js';
import { nodeQuality } from '../../node/quality-service.js';
import { command, requireString } from './framework.js';
import { QUALITY_OUTPUT_HELP, QUALITY_OUTPUT_OPTIONS, qualityMonth, writeQuality } from './quality-output.js';

export const nodeQualityCommand = command({
  name: 'quality',
  summary: "this node's data-quality indicators per 数据来源单位 × type (rejected rows, 合规率, 错码率, 完整率, 纠正率)",
  usage: '--config FILE [--month YYYY-MM] [--json|--csv|--xlsx] [--out FILE]',
  help: ['  --config FILE    node config', QUALITY_OUTPUT_HELP, "  Timeliness and duplicates across nodes are the hub's view: credit hub quality, or GET /v1/quality at the hub."].join('\n'),
  options: { config: { type: 'string' }, ...QUALITY_OUTPUT_OPTIONS },
  run: async (ctx) => {
    const config = loadConfig(requireString(ctx.values, 'config'));
    const month = qualityMonth(ctx.values);
    const db = await connect(config.databaseTarget);
    try {
      await probeStore(db, config.databaseTarget);
      await migrateParts(db, NODE_SCHEMA, storeLabel(config.databaseTarget));
      await writeQuality(await nodeQuality(db, { nodeId: config.nodeId, now: new Date(), ...(month ? { month } : {}) }), ctx);
      return 0;
    } finally {
      await db.destroy();
    }
  },
});
