/**
 * Two batches of one node in flight at once (the node's sender keeps seq n and n + 1 going): the
 * hub opens n + 1 while n is still waiting for or inside its transaction, and starts n + 1's
 * transaction only after n's, so both are accepted. Without that wait n + 1 would read the
 * stream's last seq before n commits (ERR_SEQUENCE_GAP, or ERR_OUT_OF_ORDER once it gets the row).
 * The test holds the database (SQLite: the one writing connection; PostgreSQL: the stream's row)
 * so that both batches are demonstrably in progress before either may commit.
 */
import t from 'tap';
import type { ReceiptPayload } from '../../protocol/exchange.js';
import { engines } from '../helpers/db.js';
import { hubFixture, wire } from './fixture.js';

async function until(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const engine of await engines()) {
  t.test(`${engine.name}: seq n + 1 arriving while n is in progress waits for n and both are accepted`, async (t) => {
    const f = await hubFixture(t, { engine });
    const ctx = f.hub.app.hubCtx;
    const cs = await f.enrol('430100', 3, { name: '长沙市' });
    const first = await f.call(cs.agent, 'POST', '/v1/batches', await f.sealFrom(cs, 'batch', { records: [wire('XK')], withdrawals: [] }));
    t.equal(first.status, 200, 'seq 1');
    const two = await f.sealFrom(cs, 'batch', { records: [wire('CF'), wire('XK')], withdrawals: [] });
    const three = await f.sealFrom(cs, 'batch', { records: [wire('XK')], withdrawals: [] });
    t.same([two.seq, three.seq], [2, 3]);

    let release!: () => void;
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const hold = ctx.db.transaction(async (trx) => {
      const q = trx('hub_streams').where({ node_id: '430100', stream: 'batch' });
      await (engine.name === 'pg' ? q.forUpdate().first() : q.first());
      locked();
      await new Promise<void>((r) => (release = r));
    });
    await isLocked;
    const r2 = f.call(cs.agent, 'POST', '/v1/batches', two);
    await until('seq 2 to be opened', () => ctx.intake.inProgress('430100').includes(2));
    const r3 = f.call(cs.agent, 'POST', '/v1/batches', three);
    await until('seq 3 to be opened', () => ctx.intake.inProgress('430100').includes(3));
    t.same(ctx.intake.inProgress('430100'), [2, 3], 'both in progress before either could commit');
    release();
    await hold;
    const [a2, a3] = await Promise.all([r2, r3]);
    t.equal(a2.status, 200, String(a2.json.code ?? 'seq 2 accepted'));
    t.equal(a3.status, 200, String(a3.json.code ?? 'seq 3 accepted'));
    t.equal((await f.openAs<ReceiptPayload>(cs, a2.json)).payload.seq, 2);
    t.equal((await f.openAs<ReceiptPayload>(cs, a3.json)).payload.outcome, 'accepted');
    t.same(ctx.intake.inProgress('430100'), [], 'nothing left in progress');
    const stream = await ctx.db('hub_streams').where({ node_id: '430100', stream: 'batch' }).first();
    t.equal(Number(stream.last_seq), 3);
    t.equal(Number((await ctx.db('hub_records').where({ source_node: '430100' }).count({ n: '*' }))[0]!.n), 4, 'four records stored');
  });

  t.test(`${engine.name}: seq n + 1 arriving first (n not yet in this hub) is still ERR_SEQUENCE_GAP`, async (t) => {
    const f = await hubFixture(t, { engine });
    const cs = await f.enrol('430100', 3, { name: '长沙市' });
    const one = await f.sealFrom(cs, 'batch', { records: [wire('XK')], withdrawals: [] });
    const two = await f.sealFrom(cs, 'batch', { records: [wire('XK')], withdrawals: [] });
    const early = await f.call(cs.agent, 'POST', '/v1/batches', two);
    t.equal(early.status, 409);
    t.equal(early.json.code, 'ERR_SEQUENCE_GAP');
    t.equal((await f.call(cs.agent, 'POST', '/v1/batches', one)).status, 200);
    t.equal((await f.call(cs.agent, 'POST', '/v1/batches', two)).status, 200, 'sent again after seq 1: accepted');
    t.same(f.hub.app.hubCtx.intake.inProgress('430100'), []);
  });
}
