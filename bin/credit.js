#!/usr/bin/env node
// The `credit` command. Runs the TypeScript sources through tsx's loader, so a clean clone
// needs only `npm ci` (no build step) before `npx credit …` works.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../scripts/cli.ts');
process.exitCode = await main(process.argv.slice(2));
