/**
 * Issue 13 item 10: logs carry the route template, never the raw URL or its query string, so a
 * resident ID cannot reach a log line through percent-encoding (`/v1/%73ubjects/<ID>`), a query
 * string (`?purpose=…<ID>`) or an unmatched path — on the node and on the hub, at trace level.
 */
import { Writable } from 'node:stream';
import t from 'tap';
import { makeResidentId } from '../../protocol/identifiers.js';
import { hubFixture } from '../hub/fixture.js';
import { nodeFixture } from '../node/app-fixture.js';

const ID = makeResidentId({ birth: '1988-07-14', seq: 319 });

function sink(): { stream: Writable; text: () => string } {
  const lines: string[] = [];
  return { stream: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }), text: () => lines.join('') };
}

const URLS = [
  `/v1/%73ubjects/${ID}`,
  `/v1/subjects/${ID}?purpose=${encodeURIComponent(`核查 ${ID}`)}`,
  `/v1/subjects/x?purpose=${ID}`,
  `/v1/records/0191e5d6-0000-7000-8000-000000000000?purpose=${ID}`,
  `/v1/%72ecords?q=${ID}`,
  `/v1/nothing/${ID}`,
  `/healthz?who=${ID}`,
];

t.test('node: no resident ID in any log line, whatever the URL looks like', async (t) => {
  const log = sink();
  const f = await nodeFixture(t, { config: { logLevel: 'trace' }, logStream: log.stream });
  const headers = await f.auth('officer', 'internal');
  for (const url of URLS) await f.app.inject({ url, headers });
  const text = log.text();
  t.ok(text.includes('"url":"/v1/subjects/:code"'), 'the route template is logged');
  t.notOk(text.includes(ID), 'the resident ID never appears');
  t.notOk(text.includes(ID.slice(0, 17)), 'nor its first 17 characters');
});

t.test('hub: no resident ID in any log line, whatever the URL looks like', async (t) => {
  const log = sink();
  const f = await hubFixture(t, { config: { logLevel: 'trace' }, logStream: log.stream });
  for (const url of [...URLS, `/v1/distributions?after=0&purpose=${ID}`, `/v1/crl?${ID}`]) await f.hub.app.inject({ url });
  const text = log.text();
  t.ok(text.includes('"url":"/v1/crl"'), 'the route template is logged');
  t.notOk(text.includes(ID), 'the resident ID never appears');
  t.notOk(text.includes(ID.slice(0, 17)), 'nor its first 17 characters');
});
