/**
 * The folders' import rules (issue 17 item 10): server/ imports only protocol/, certs/ and audit/;
 * node/ and hub/ import server/ but never each other; hub/routes/* do not import hub/app.ts (which
 * imports them: they get what they need through hub/route-context.ts).
 */
import t from 'tap';
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The checkout, also when this runs from npm test's compiled mirror (.tap/js, whose package.json is a symlink).
const root = dirname(realpathSync(resolve(dirname(fileURLToPath(import.meta.url)), '../../package.json')));

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

/** The repository files a source imports (relative specifiers only), as paths from the root. */
function localImports(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) out.push(relative(root, resolve(root, dirname(file), m[1]!)).replace(/\.js$/, '.ts'));
  return out;
}

const top = (path: string) => path.split('/')[0]!;

t.test('server/ imports only protocol/, certs/, audit/ and itself', async (t) => {
  const files = sources('server');
  t.ok(files.length >= 4, 'server/ has its modules');
  for (const f of files) for (const i of localImports(f)) t.ok(['protocol', 'certs', 'audit', 'server'].includes(top(i)), `${f} → ${i}`);
});

t.test('node/ and hub/ never import each other', async (t) => {
  for (const [from, not] of [['node', 'hub'], ['hub', 'node']] as const) {
    for (const f of sources(from)) for (const i of localImports(f)) if (top(i) === not) t.fail(`${f} imports ${i}`);
  }
  t.pass('checked');
});

t.test('both servers start through server/', async (t) => {
  t.ok(localImports('node/server.ts').includes('server/start.ts'));
  t.ok(localImports('hub/server.ts').includes('server/start.ts'));
});

t.test('hub/routes/* do not import hub/app.ts', async (t) => {
  for (const f of sources('hub/routes')) t.notOk(localImports(f).includes('hub/app.ts'), f);
});
