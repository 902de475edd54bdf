/**
 * `credit node witness reset-arm|resets` (docs/audit-format.md §10b): usage errors are ERR_USAGE
 * (exit 2) and arm nothing; an arm is audited as the operator before it is stored, prints what it
 * keeps and abandons, cancels the earlier unused arm, and is listed (text and JSON). The reset itself
 * runs against a real hub in test/node/hub-restore-resync.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { main } from '../../scripts/cli.js';
import { loadConfig } from '../../node/config.js';
import { connect } from '../../audit/knex-connect.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) }, out: () => out.join(''), err: () => err.join('') };
}

const dir = mkdtempSync(join(tmpdir(), 'node-witness-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const configFile = join(dir, 'node.json');
writeFileSync(configFile, JSON.stringify({ nodeId: '430100', dataDir: join(dir, 'data'), listen: { host: '127.0.0.1', port: 0 }, logLevel: 'silent', rateLimit: { enabled: false } }));
const arm = (...extra: string[]) => ['node', 'witness', 'reset-arm', '--config', configFile, ...extra];
const past = new Date(Date.now() - 3_600_000).toISOString();

t.test('--help, and usage errors arm nothing', async (t) => {
  const help = capture();
  t.equal(await main([...arm(), '--help'], help.io), 0);
  t.match(help.out(), /--hub-restored-to ISO/);
  for (const [argv, why] of [
    [arm('--reason', 'ok reason'), /--hub-restored-to/],
    [arm('--hub-restored-to', past), /--reason/],
    [arm('--hub-restored-to', '2026-12-01', '--reason', 'ok reason'), /UTC time with milliseconds/],
    [arm('--hub-restored-to', new Date(Date.now() + 3_600_000).toISOString(), '--reason', 'ok reason'), /in the future/],
    [arm('--hub-restored-to', past, '--reason', 'x'), /3 to 500 characters/],
    [arm('--hub-restored-to', past, '--reason', 'ok reason', '--ttl', '8d'), /at most 7d/],
  ] as const) {
    const c = capture();
    t.equal(await main([...argv], c.io), 2, String(why));
    t.match(c.err(), /ERR_USAGE/);
    t.match(c.err(), why);
  }
  const db = await connect(loadConfig(configFile).databaseTarget).catch(() => null);
  if (db) {
    t.equal((await db.schema.hasTable('node_hub_witness_arms')) ? (await db('node_hub_witness_arms')).length : 0, 0, 'nothing armed');
    await db.destroy();
  }
});

t.test('an arm is audited, printed, replaces the unused one and is listed; nothing to abandon, no arm', async (t) => {
  const none = capture();
  t.equal(await main(arm('--hub-restored-to', past, '--reason', '省平台通知：主库回滚'), none.io), 1, 'a node that never cosigned the hub has nothing to reset');
  t.match(none.err(), /ERR_AUDIT_RESET_FROM.*nothing to reset/);
  // two hub heads this node cosigned: one from a hub checkpoint before the restore point, one after
  const db = await connect(loadConfig(configFile).databaseTarget);
  t.teardown(() => db.destroy());
  const head = (size: number, time: string) => ({ node_id: '430000', tree_size: size, root_hash: String(size % 10).repeat(64), checkpoint: JSON.stringify({ time }), cosignature: '{}', cosigned_at: time });
  await db('audit_witnessed').insert([head(5, new Date(Date.now() - 7_200_000).toISOString()), head(9, new Date(Date.now() - 1_800_000).toISOString())]);
  const first = capture();
  t.equal(await main(arm('--hub-restored-to', past, '--reason', '省平台通知：主库回滚', '--ttl', '2h'), first.io), 0, first.err());
  t.match(first.out(), /^witness reset 1 of the hub's log armed until \S+ \(hub restored to /);
  t.match(first.out(), /keeps the hub's log up to tree size 5 \(cosigned \S+\) and abandons 1 head\(s\) this node cosigned after that \(tree sizes 9\.\.9, the last cosigned \S+\)/);
  const second = capture();
  t.equal(await main(arm('--hub-restored-to', past, '--reason', 'corrected notice'), second.io), 0);
  t.match(second.err(), /earlier unused arm is cancelled/);
  const list = capture();
  t.equal(await main(['node', 'witness', 'resets', '--config', configFile], list.io), 0);
  t.match(list.out(), /^1\tcancelled \S+\trestoredTo=\S+\tcli:\S+ \S+\t省平台通知：主库回滚\n2\tarmed until \S+\t/);
  const json = capture();
  t.equal(await main(['node', 'witness', 'resets', '--config', configFile, '--json'], json.io), 0);
  t.match(JSON.parse(json.out()), [{ id: 1, consumedAt: null, epoch: null }, { id: 2, reason: 'corrected notice', restoredTo: past, cancelledAt: null }]);
  const entries = await db('audit_log').where({ action: 'witness.reset.arm' }).orderBy('seq');
  t.same(entries.map((e: { outcome: string }) => e.outcome), ['failure', 'success', 'success'], 'each arm audited, the refused one too');
  t.match(entries[0].reason, new RegExp(`^ERR_AUDIT_RESET_FROM: restoredTo=${past}: 省平台通知：主库回滚 src=`));
  t.match(entries[1], { object: 'node:430000', outcome: 'success', actor: /^cli:/ });
  t.match(entries[1].reason, new RegExp(`^expires=\\S+ restoredTo=${past} keeps=5 abandons=1: 省平台通知：主库回滚 src=`));
});
