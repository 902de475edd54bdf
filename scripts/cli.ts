/** `credit`: the one command line of credit-federation. Each group lives in scripts/cli/<group>.ts. */
import { dispatch, group, processIo, type Io } from './cli/framework.js';
import { idGroup } from './cli/id.js';
import { catalogGroup } from './cli/catalog.js';
import { caGroup } from './cli/ca.js';
import { nodeGroup } from './cli/node.js';
import { hubGroup } from './cli/hub.js';
import { importCommand } from './cli/import.js';
import { auditGroup } from './cli/audit.js';
import { demoCommand } from './cli/demo.js';
import { benchCommand } from './cli/bench.js';

export const root = group('credit', 'credit-federation: city nodes, the provincial hub, the provincial CA and audit logs.', [
  idGroup,
  catalogGroup,
  caGroup,
  nodeGroup,
  hubGroup,
  importCommand,
  auditGroup,
  demoCommand,
  benchCommand,
]);

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  return dispatch(root, argv, io);
}
