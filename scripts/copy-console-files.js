// `npm run build` step (scripts/build.js): the web consoles' templates and static files are not
// TypeScript, so tsc does not copy them; they go beside the compiled modules that load them by
// relative path (server/console/console-app.ts TEMPLATE_ROOT, server/console/assets.ts).
import { cpSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function copyConsoleFiles(outDir = 'dist') {
  for (const dir of ['server/console/views', 'server/console/static', 'node/console/views', 'hub/console/views']) cpSync(dir, `${outDir}/${dir}`, { recursive: true });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) copyConsoleFiles(process.argv[2]);
