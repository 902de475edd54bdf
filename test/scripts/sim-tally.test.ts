/**
 * The simulation's tally of client answers (scripts/sim/workload.ts): a 5xx is counted with the
 * node's error code and the transport cause it names (details.cause), so a run's `client answers`
 * line says why the hub request failed (docs/scale.md, the 136-node runs' late 503s).
 */
import t from 'tap';
import { count, newTally } from '../../scripts/sim/workload.js';

t.test('2xx by status; 5xx by status, code and cause; a body that is not JSON says so', async (t) => {
  const tally = newTally();
  count(tally, 'query', 200, '{"records":[]}');
  count(tally, 'query', 503, JSON.stringify({ code: 'ERR_HUB_UNAVAILABLE', message: 'x', details: { cause: 'UND_ERR_HEADERS_TIMEOUT' } }));
  count(tally, 'query', 503, JSON.stringify({ code: 'ERR_HUB_UNAVAILABLE', message: 'x', details: { cause: 'UND_ERR_HEADERS_TIMEOUT' } }));
  count(tally, 'import', 500, JSON.stringify({ code: 'ERR_INTERNAL' }));
  count(tally, 'query', 502, '<html>bad gateway</html>');
  t.same(Object.fromEntries(tally.statuses), {
    'query 200': 1,
    'query 503 ERR_HUB_UNAVAILABLE/UND_ERR_HEADERS_TIMEOUT': 2,
    'import 500 ERR_INTERNAL': 1,
    'query 502 (not JSON)': 1,
  });
  t.equal(tally.errors5xx, 4);
});
