/** The hub's /metrics per node (issue 17 item 8): seconds since each active node's last contact. */
import t from 'tap';
import { hubFixture } from './fixture.js';

t.test('credit_hub_node_last_contact_seconds per active node', async (t) => {
  const f = await hubFixture(t);
  const node = await f.enrol('430100', 3);
  t.equal((await f.call(node.agent, 'GET', '/v1/distributions?after=0')).status, 200, 'the node polls');
  const text = String((await f.call(f.anonymous, 'GET', '/metrics')).json);
  const m = /^credit_hub_node_last_contact_seconds\{[^}]*peer="430100"[^}]*\} (\S+)$/m.exec(text);
  t.ok(m, 'a line for node 430100');
  const seconds = Number(m?.[1]);
  t.ok(seconds >= 0 && seconds < 600, `seen moments ago (${seconds} s)`);
});
