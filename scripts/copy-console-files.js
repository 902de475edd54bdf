// `npm run build` step: the web consoles' templates and static files are not TypeScript, so tsc
// does not copy them; they go to dist/ beside the compiled modules that load them by relative path
// (server/console/console-app.ts TEMPLATE_ROOT, server/console/assets.ts).
import { cpSync } from 'node:fs';

for (const dir of ['server/console/views', 'server/console/static', 'node/console/views', 'hub/console/views']) cpSync(dir, `dist/${dir}`, { recursive: true });
