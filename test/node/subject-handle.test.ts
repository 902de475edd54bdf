/**
 * Issue 13 item 7: the node writes a subject into its audit log as a keyed HMAC with a per-node
 * secret (DATADIR/subject.key, 0600, made on first start), the same construction as the hub's, so
 * the handle cannot be reversed by hashing every possible resident ID; the handle is stable for
 * one node and differs between nodes.
 */
import { createHash, createHmac } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { makeResidentId } from '../../protocol/identifiers.js';
import { buildConfig } from '../../node/config.js';
import { nodeFixture } from './app-fixture.js';

const ID = makeResidentId({ birth: '1979-03-21', seq: 402 });

async function lookupHandle(f: Awaited<ReturnType<typeof nodeFixture>>): Promise<string> {
  f.events.length = 0;
  const res = await f.app.inject({ url: `/v1/subjects/${ID}`, headers: await f.auth('submitter', 'internal') });
  t.equal(res.json().code, 'ERR_ROLE_DENIED');
  const denied = f.events.find((e) => e.action === 'access.denied');
  return String(denied?.object);
}

t.test('subject handles are HMAC-SHA256 with the node key, not a bare hash', async (t) => {
  const a = await nodeFixture(t);
  const handle = await lookupHandle(a);
  const keyFile = join(a.config.dataDir, 'subject.key');
  t.equal(statSync(keyFile).mode & 0o777, 0o600, 'the key file is 0600');
  const key = Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'utf8');
  t.ok(key.length >= 32, 'a key of at least 256 bits');
  t.equal(handle, `hmac-sha256:${createHmac('sha256', key).update(ID, 'utf8').digest('hex')}`, 'HMAC-SHA256(key, code), as the hub writes it');
  const bare = createHash('sha256').update(ID, 'utf8').digest('hex');
  t.notOk(handle.includes(bare.slice(0, 32)), 'not the unsalted SHA-256 of the code');
  t.notOk(a.events.some((e) => JSON.stringify(e).includes(ID)), 'no audit event carries the code');

  t.same(buildConfig({ nodeId: '430100', dataDir: a.config.dataDir }, {}).subjectKey, key, 'the same key on the next start');
  a.setNow('2026-11-28T08:05:00.000Z'); // a new minute: refusals are written once per source and minute (issue 13 item 12)
  t.equal(await lookupHandle(a), handle, 'stable for one node');
  const b = await nodeFixture(t);
  t.not(await lookupHandle(b), handle, 'another node, another key, another handle');
});
