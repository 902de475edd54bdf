/**
 * Issue 22 item 2: `credit sim` (npm run sim) on PostgreSQL, small: 4 in-process nodes, 2 hub
 * processes behind the sim's round-robin balancer, 200 records per node, hub 1 SIGKILLed at half
 * load. Run as the real command in a child process; its last stdout line is the JSON result.
 * Under CI=true an unreachable PostgreSQL fails this file (test/helpers/db.ts), never skips it.
 */
import t from 'tap';
import { credit } from '../../scripts/demo/processes.js';
import { engines, PG_URL } from '../helpers/db.js';

t.test('credit sim --help and usage refusals', async (t) => {
  const help = await credit(['sim', '--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /--nodes N --hubs H --records R \[--database URL\] \[--queries-per-node Q\]/);
  const sqliteHubs = await credit(['sim', '--nodes', '2', '--hubs', '2', '--records', '1']);
  t.equal(sqliteHubs.code, 2, 'several hubs without --database is a usage error');
  t.match(sqliteHubs.stderr, /ERR_USAGE.*--database/);
  const noNodes = await credit(['sim', '--records', '1']);
  t.match(noNodes.stderr, /ERR_USAGE.*--nodes/);
});

for (const engine of (await engines()).filter((e) => e.name === 'pg')) {
  t.test('4 nodes, 2 hubs on one PostgreSQL, one hub killed mid-run: nothing lost or doubled, everything distributed, audit verified', async (t) => {
    const store = await engine.open(); // under CI with PostgreSQL down this throws: the file fails
    t.teardown(store.close);
    const env = { ...process.env };
    delete env.DATABASE_URL;
    const r = await credit(['sim', '--nodes', '4', '--hubs', '2', '--records', '200', '--queries-per-node', '10', '--database', PG_URL], { env, timeoutMs: 540_000 });
    const last = r.stdout.trim().split('\n').at(-1) ?? '';
    t.equal(r.code, 0, `exit code (stderr: ${r.stderr.slice(-2000)})`);
    const j = JSON.parse(last) as Record<string, unknown>;
    t.match(j, { nodes: 4, hubs: 2, sent: 800, atHub: 800, lost: 0, duplicates: 0, distributionComplete: true, auditOk: true, errors5xx: 0 });
    t.type(j.intakeRps, 'number');
    t.type(j.queryP50Ms, 'number');
    t.type(j.queryP99Ms, 'number');
    t.match(r.stderr, /SIGKILL hub 1/, 'a hub was killed mid-run');
  });
}
