/** One-time enrolment tokens and enrolment: single use, expiry, node binding, hashed storage. */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import {
  CA_FILES, createEnrolmentToken, createNodeKeys, enrol, initCaDir, memoryStores, openCaDir, parseTtl, redeemEnrolmentToken, TOKEN_PREFIX,
} from '../../certs/index.js';
import { createMemoryCa, openssl, tempDir, writeAll } from './support.js';

const HOUR = 3_600_000;
const t0 = new Date('2026-03-01T08:00:00Z');

t.test('a token is opaque, ≥128 bits, base64url with the cf1_ prefix, and redeems once for its node', async (t) => {
  const store = memoryStores();
  const { token, expiresAt } = await createEnrolmentToken(store, { nodeId: '430100', grade: 3, ttlMs: 24 * HOUR, now: t0 });
  t.ok(token.startsWith(TOKEN_PREFIX));
  const body = token.slice(TOKEN_PREFIX.length);
  t.match(body, /^[A-Za-z0-9_-]+$/);
  t.ok(Buffer.from(body, 'base64url').length >= 16, 'at least 128 random bits');
  t.equal(expiresAt.toISOString(), '2026-03-02T08:00:00.000Z');
  const other = await createEnrolmentToken(store, { nodeId: '430100', grade: 3, ttlMs: HOUR, now: t0 });
  t.not(other.token, token, 'every token is new');
  t.same(await redeemEnrolmentToken(store, token, { nodeId: '430100', now: new Date(t0.getTime() + HOUR) }), { nodeId: '430100', grade: 3 });
});

t.test('reuse, expiry, another node id and unknown tokens each fail with their own code', async (t) => {
  const store = memoryStores();
  const { token } = await createEnrolmentToken(store, { nodeId: '430100', grade: 2, ttlMs: HOUR, now: t0 });
  const soon = new Date(t0.getTime() + 60_000);

  await t.rejects(redeemEnrolmentToken(store, token, { nodeId: '430200', now: soon }), { code: 'ERR_TOKEN_NODE_MISMATCH' }, 'token for another node id');
  t.same(await redeemEnrolmentToken(store, token, { nodeId: '430100', now: soon }), { nodeId: '430100', grade: 2 }, 'a mismatch did not consume the token');
  await t.rejects(redeemEnrolmentToken(store, token, { nodeId: '430100', now: soon }), { code: 'ERR_TOKEN_USED' }, 'second use');

  const late = await createEnrolmentToken(store, { nodeId: '430100', grade: 2, ttlMs: HOUR, now: t0 });
  await t.rejects(redeemEnrolmentToken(store, late.token, { nodeId: '430100', now: new Date(t0.getTime() + HOUR) }), { code: 'ERR_TOKEN_EXPIRED' }, 'at expiry');
  await t.rejects(redeemEnrolmentToken(store, late.token, { nodeId: '430100', now: new Date(t0.getTime() + 2 * HOUR) }), { code: 'ERR_TOKEN_EXPIRED' }, 'after expiry');

  const unknown = `${TOKEN_PREFIX}${Buffer.alloc(32, 7).toString('base64url')}`;
  await t.rejects(redeemEnrolmentToken(store, unknown, { nodeId: '430100', now: soon }), { code: 'ERR_TOKEN_INVALID' }, 'well-formed but unknown');
  await t.rejects(redeemEnrolmentToken(store, 'not-a-token', { nodeId: '430100', now: soon }), { code: 'ERR_TOKEN_INVALID' }, 'malformed');
  await t.rejects(redeemEnrolmentToken(store, `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`, { nodeId: '430100', now: soon }), { code: 'ERR_TOKEN_INVALID' }, 'one character changed');
});

t.test('concurrent redemptions of one token: exactly one wins', async (t) => {
  const store = memoryStores();
  const { token } = await createEnrolmentToken(store, { nodeId: '430100', grade: 3, ttlMs: HOUR, now: t0 });
  const results = await Promise.allSettled(Array.from({ length: 8 }, () => redeemEnrolmentToken(store, token, { nodeId: '430100', now: t0 })));
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  for (const r of results) if (r.status === 'rejected') t.equal((r.reason as { code?: string }).code, 'ERR_TOKEN_USED');
});

t.test('bad grade and bad node id are refused when the token is made', async (t) => {
  const store = memoryStores();
  for (const grade of [0, 5, 2.5, Number.NaN]) {
    await t.rejects(createEnrolmentToken(store, { nodeId: '430100', grade, ttlMs: HOUR }), { code: 'ERR_GRADE_INVALID' }, `grade ${grade}`);
  }
  await t.rejects(createEnrolmentToken(store, { nodeId: '43010', grade: 1, ttlMs: HOUR }), { code: 'ERR_INVALID_NODE_ID' });
});

t.test('parseTtl reads s, m, h, d and plain seconds', async (t) => {
  t.equal(parseTtl('24h'), 24 * HOUR);
  t.equal(parseTtl('30m'), 30 * 60_000);
  t.equal(parseTtl('7d'), 7 * 24 * HOUR);
  t.equal(parseTtl('90'), 90_000);
  for (const bad of ['', '0h', '-1h', '1w', 'h', '1.5h']) t.equal(parseTtl(bad), undefined, JSON.stringify(bad));
});

t.test('enrol: token + CSR → a certificate for that node with the token\'s grade', async (t) => {
  const ca = createMemoryCa();
  const { token } = await createEnrolmentToken(ca, { nodeId: '430100', grade: 3, ttlMs: HOUR });
  const { csrPem } = createNodeKeys('430100');
  const issued = await enrol(ca, { token, csrPem });
  t.equal(issued.nodeId, '430100');
  t.equal(issued.grade, 3);
  const listed = await ca.certs.listIssued();
  t.equal(listed.find((c) => c.serial === issued.serial)?.grade, 3, 'grade recorded in the register');
  const dir = await tempDir(t);
  const p = await writeAll(dir, { 'ca.pem': ca.certPem, 'node.pem': issued.certPem });
  t.equal(openssl(['verify', '-CAfile', p['ca.pem']!, p['node.pem']!]).status, 0);
  await t.rejects(enrol(ca, { token, csrPem }), { code: 'ERR_TOKEN_USED' }, 'the token is spent');
});

t.test('enrol: a CSR for another node id fails, a broken CSR does not burn the token', async (t) => {
  const ca = createMemoryCa();
  const { token } = await createEnrolmentToken(ca, { nodeId: '430100', grade: 2, ttlMs: HOUR });
  await t.rejects(enrol(ca, { token, csrPem: createNodeKeys('430200').csrPem }), { code: 'ERR_TOKEN_NODE_MISMATCH' });
  await t.rejects(enrol(ca, { token, csrPem: 'garbage' }), { code: 'ERR_CSR_INVALID' });
  const ok = await enrol(ca, { token, csrPem: createNodeKeys('430100').csrPem });
  t.equal(ok.nodeId, '430100', 'the token still works for its own node');
});

t.test('a CA directory stores only the SHA-256 of a token, and single use holds across openings', async (t) => {
  const dir = join(await tempDir(t), 'ca');
  await initCaDir(dir);
  const { token } = await createEnrolmentToken(await openCaDir(dir), { nodeId: '430100', grade: 4, ttlMs: HOUR });
  const state = await readFile(join(dir, CA_FILES.state), 'utf8');
  t.notOk(state.includes(token), 'token not in state.json');
  t.notOk(state.includes(token.slice(TOKEN_PREFIX.length)), 'token body not in state.json');
  t.ok(state.includes(createHash('sha256').update(token).digest('hex')), 'its SHA-256 is');
  t.same(await redeemEnrolmentToken(await openCaDir(dir), token, { nodeId: '430100' }), { nodeId: '430100', grade: 4 });
  await t.rejects(redeemEnrolmentToken(await openCaDir(dir), token, { nodeId: '430100' }), { code: 'ERR_TOKEN_USED' }, 'a fresh opening sees it used');
});
