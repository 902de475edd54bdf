#!/usr/bin/env node
// The `credit` command.
// - Installed package (no TypeScript sources beside this file): runs the compiled code in dist/.
// - Checkout (scripts/cli.ts present): runs the sources through tsx (a devDependency), so edits take
//   effect without a build and a stale dist/ is never what the tests exercise.
// - Under `npm test` (scripts/run-tests.js sets CREDIT_MIRROR to the compiled test tree, .tap/js/): a
//   checkout runs that tree's JavaScript, compiled once for the run, like the test files themselves —
//   not every hub, node and CLI process compiling the sources through tsx again.
// CREDIT_RUNTIME=dist or CREDIT_RUNTIME=tsx forces one of the two.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const compiled = new URL('../dist/scripts/cli.js', import.meta.url);
const sources = new URL('../scripts/cli.ts', import.meta.url);
const mirror = process.env.CREDIT_MIRROR ? join(process.env.CREDIT_MIRROR, 'scripts', 'cli.js') : undefined;
const runtime = process.env.CREDIT_RUNTIME ?? (existsSync(sources) ? (mirror && existsSync(mirror) ? 'mirror' : 'tsx') : 'dist');

let main;
if (runtime === 'mirror') {
  ({ main } = await import(pathToFileURL(mirror).href));
} else if (runtime === 'dist') {
  if (!existsSync(compiled)) {
    process.stderr.write('error ERR_NOT_BUILT: dist/ is missing; run `npm run build` in the checkout (or reinstall the package)\n');
    process.exit(1);
  }
  ({ main } = await import(compiled.href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(sources.href));
}
try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  // Coded errors are printed by main(); anything else is still one line (CREDIT_DEBUG=1: the stack).
  if (process.env.CREDIT_DEBUG) throw e;
  process.stderr.write(`error ERR_INTERNAL: ${e instanceof Error ? e.message : String(e)} (CREDIT_DEBUG=1 shows the stack trace)\n`);
  process.exitCode = 1;
}
