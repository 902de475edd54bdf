import t from 'tap';
import { main, root } from '../../scripts/cli.js';
import type { Entry } from '../../scripts/cli/framework.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) }, out, err };
}

function* paths(e: Entry, prefix: string[]): Generator<string[]> {
  const here = [...prefix, e.name];
  yield here.slice(1);
  if (e.kind === 'group') for (const c of e.children) yield* paths(c, here);
}

t.test('--help answers on every level and exits 0', async (t) => {
  for (const p of paths(root, [])) {
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
