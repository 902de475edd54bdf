import t from 'tap';
import { main, root } from '../../scripts/cli.js';
import { resolve, type Entry } from '../../scripts/cli/framework.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) }, out, err };
}

async function paths(e: Entry, prefix: string[], out: string[][] = []): Promise<string[][]> {
  const here = [...prefix, e.name];
  out.push(here.slice(1));
  const r = await resolve(e);
  if (r.kind === 'group') for (const c of r.children) await paths(c, here, out);
  return out;
}

t.test('--help answers on every level and exits 0', async (t) => {
  for (const p of await paths(root, [])) {
    const c = capture();
    const code = await main([...p, '--help'], c.io);
    t.equal(code, 0, `credit ${p.join(' ')} --help`);
    t.match(c.out.join(''), /Usage: credit/, `usage printed for ${p.join(' ') || '(root)'}`);
  }
});

t.test('an unknown command is ERR_USAGE with exit 2', async (t) => {
  const c = capture();
  t.equal(await main(['no-such-thing'], c.io), 2);
  t.match(c.err.join(''), /ERR_USAGE/);
});

t.test('an unknown option is ERR_USAGE with exit 2', async (t) => {
  const c = capture();
  t.equal(await main(['demo', '--bogus'], c.io), 2);
  t.match(c.err.join(''), /ERR_USAGE/);
});

t.test('the lazy top-level entries carry the summary of the group they load', async (t) => {
  for (const e of root.children) {
    const r = await resolve(e);
    t.equal(r.name, e.name);
    t.equal(r.summary, e.summary, `summary of ${e.name}`);
    if (e.kind === 'lazy') t.equal(e.leaf, r.kind === 'command', `${e.name} leaf flag`);
  }
});

t.test('an unknown command suggests the nearest one', async (t) => {
  for (const [argv, suggestion] of [
    [['ndoe'], 'credit node'],
    [['hub', 'tokn'], 'credit hub token'],
    [['node', 'strt'], 'credit node start'],
    [['verison'], undefined],
  ] as const) {
    const c = capture();
    t.equal(await main([...argv], c.io), 2);
    const first = c.err.join('').split('\n')[0]!;
    t.match(first, /^error ERR_USAGE: unknown command/);
    if (suggestion === undefined) t.notMatch(first, /did you mean/);
    else t.match(first, `did you mean "${suggestion}"?`);
  }
});

t.test('--version prints the package version', async (t) => {
  const c = capture();
  t.equal(await main(['--version'], c.io), 0);
  t.match(c.out.join(''), /^credit-federation 0\.\d+\.\d+ \(Node\.js \d+/);
});
