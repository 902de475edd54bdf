/**
 * The consoles' static files, served from memory under /static/: htmx and uPlot as the npm
 * registry ships them (read from node_modules when the console starts: no CDN, no front-end build),
 * and the consoles' own script and style sheet (server/console/static/). A fixed list: nothing else
 * on disk is reachable. Long-cached; the file names carry the package version.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const require = createRequire(import.meta.url);
const own = (name: string) => fileURLToPath(new URL(`./static/${name}`, import.meta.url));

interface Asset {
  body: Buffer;
  type: string;
}

/** URL name → file, media type. */
function files(): Record<string, { file: string; type: string }> {
  const htmx = (require('htmx.org/package.json') as { version: string }).version;
  const uplot = (require('uplot/package.json') as { version: string }).version;
  return {
    [`htmx-${htmx}.min.js`]: { file: require.resolve('htmx.org/dist/htmx.min.js'), type: 'text/javascript; charset=utf-8' },
    [`uplot-${uplot}.min.js`]: { file: require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
    [`uplot-${uplot}.min.css`]: { file: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
    'console.js': { file: own('console.js'), type: 'text/javascript; charset=utf-8' },
    'console.css': { file: own('console.css'), type: 'text/css; charset=utf-8' },
    'favicon.svg': { file: own('favicon.svg'), type: 'image/svg+xml' },
  };
}

/** The URLs pages link to (layout.eta). */
export interface AssetUrls {
  htmx: string;
  uplotJs: string;
  uplotCss: string;
  js: string;
  css: string;
  icon: string;
}

export function installAssets(app: FastifyInstance): AssetUrls {
  const list = files();
  const assets = new Map<string, Asset>(Object.entries(list).map(([name, f]) => [name, { body: readFileSync(f.file), type: f.type }]));
  app.get<{ Params: { name: string } }>('/static/:name', { schema: { hide: true } as object }, async (request, reply) => {
    const a = assets.get(request.params.name);
    if (!a) return reply.callNotFound();
    return reply.type(a.type).header('cache-control', 'public, max-age=86400').send(a.body);
  });
  const find = (prefix: string, ext: string) => `/static/${Object.keys(list).find((n) => n.startsWith(prefix) && n.endsWith(ext))!}`;
  return { htmx: find('htmx-', '.js'), uplotJs: find('uplot-', '.js'), uplotCss: find('uplot-', '.css'), js: '/static/console.js', css: '/static/console.css', icon: '/static/favicon.svg' };
}
