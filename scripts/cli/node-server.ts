import type { Command } from './framework.js';
// Owner: the city node (issue 5). `credit node start|token`
export const nodeServerCommands: Command[] = [];
