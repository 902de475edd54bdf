import t from 'tap';
import { readFileSync } from 'node:fs';
import { ALL_ERROR_TABLES } from './helpers/all-errors.js';

const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
const documented = [...doc.matchAll(/^\|\s*`(ERR_[A-Z0-9_]+)`\s*\|/gm)].map((m) => m[1]!);

t.test('docs/errors.md lists every code exactly once, and no other', async (t) => {
  const inCode = Object.values(ALL_ERROR_TABLES).flatMap((table) => Object.keys(table));
  t.ok(inCode.length > 0, 'packages declare codes');
  t.same([...documented].sort(), [...new Set(documented)].sort(), 'no code documented twice');
  t.same([...new Set(documented)].sort(), [...new Set(inCode)].sort(), 'docs and code agree');
  t.equal(new Set(inCode).size, inCode.length, 'no code declared by two packages');
});

t.test('every code is ERR_ + upper snake case and has a message', async (t) => {
  for (const [pkg, table] of Object.entries(ALL_ERROR_TABLES)) {
    for (const [code, message] of Object.entries(table)) {
      t.match(code, /^ERR_[A-Z0-9]+(_[A-Z0-9]+)*$/, `${pkg} ${code}`);
      t.ok(message.length > 0, `${pkg} ${code} has a message`);
    }
  }
});
