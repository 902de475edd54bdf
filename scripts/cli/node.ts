import { group } from './framework.js';
import { nodeKeyCommands } from './node-keys.js';
import { nodeServerCommands } from './node-server.js';

export const nodeGroup = group('node', 'a city or county node: keys, tokens, running it', [...nodeKeyCommands, ...nodeServerCommands]);
