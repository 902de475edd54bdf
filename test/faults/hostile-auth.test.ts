/**
 * Who is speaking, attacked beyond test/node/auth.test.ts and test/hub/*: node bearer tokens edited
 * to escalate (submitter → officer), re-signed with other algorithms or keys, header injection, and
 * a fast-check property over arbitrary edits of a real token (never accepted unless its bytes are
 * unchanged); at the hub, one node speaking for another (from=B over A's TLS, A's certificate
 * claiming B, B's captured batch replayed by A) on every envelope route, re-addressed envelopes,
 * protocol downgrades, and every mutual-TLS route without a client certificate.
 */
import t from 'tap';
import { SUPPORTED_VERSIONS } from '../../protocol/version.js';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { issueToken } from '../../node/tokens.js';
import { nodeFixture, record } from '../node/app-fixture.js';
import { hubFixture, wire } from '../hub/fixture.js';
import { engines } from '../helpers/db.js';
import { HOSTILE_STRINGS, runs, sealRaw } from './hostile-support.js';

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const AUTH_CODES = new Set(['ERR_AUTH_INVALID', 'ERR_AUTH_EXPIRED', 'ERR_AUTH_MISSING']);

t.test('node: edited, re-signed and injected tokens are 401 with their code', async (t) => {
  const f = await nodeFixture(t);
  const submitter = await f.token('submitter', 'public', { user: 'clerk' });
  const [h, p, s] = submitter.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  const now = Math.floor(Date.now() / 1000);
  const hs = (header: Record<string, unknown>, body: Record<string, unknown>, key: Uint8Array = f.config.jwtSecret) =>
    new SignJWT(body).setProtectedHeader({ alg: 'HS256', ...header } as { alg: string }).sign(key);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const raised = { ...claims, role: 'officer', clearance: 'internal' };
  const cases: [string, string, string][] = [
    ['submitter token edited to officer/internal, signature kept', `${h}.${b64(raised)}.${s}`, 'ERR_AUTH_INVALID'],
    ['submitter token edited to officer, alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${b64(raised)}.`, 'ERR_AUTH_INVALID'],
    ['alg "None" (case games)', `${b64({ alg: 'None', typ: 'JWT' })}.${b64(raised)}.`, 'ERR_AUTH_INVALID'],
    ['officer claims signed with an empty key', await hs({}, { ...raised, exp: now + 600 }, new Uint8Array(32)), 'ERR_AUTH_INVALID'],
    ['officer claims signed RS256 with a key of our own', await new SignJWT({ ...raised, exp: now + 600 }).setProtectedHeader({ alg: 'RS256' }).sign(rsa.privateKey), 'ERR_AUTH_INVALID'],
    ['kid / jku / x5u header injection, signed with an attacker key', await hs({ kid: '../../../dev/null', jku: 'https://evil.example/jwks', x5u: 'https://evil.example/c' }, { ...raised, exp: now + 600 }, Buffer.alloc(32, 1)), 'ERR_AUTH_INVALID'],
    ['the right key, the role "root"', await hs({}, { ...claims, role: 'root', exp: now + 600 }), 'ERR_AUTH_INVALID'],
    ['the right key, no clearance claim', await hs({}, { sub: 'x', iss: '430100', role: 'officer', exp: now + 600 }), 'ERR_AUTH_INVALID'],
    ['the right key, not valid before next hour', await hs({}, { ...raised, exp: now + 7200, nbf: now + 3600 }), 'ERR_AUTH_INVALID'],
    ['the right key, expired a minute ago', await hs({}, { ...raised, exp: now - 60 }), 'ERR_AUTH_EXPIRED'],
    ['expired token with a later exp pasted in', `${h}.${b64({ ...claims, exp: now + 86_400 })}.${s}`, 'ERR_AUTH_INVALID'],
    ['signature stripped', `${h}.${p}.`, 'ERR_AUTH_INVALID'],
    ['four segments', `${submitter}.${s}`, 'ERR_AUTH_INVALID'],
    ['NUL in the token', `${h}.${p}\u0000.${s}`, 'ERR_AUTH_INVALID'],
  ];
  for (const [what, token, code] of cases) {
    const res = await f.app.inject({ method: 'POST', url: '/v1/records', headers: { authorization: `Bearer ${token}` }, payload: record('CF', { decisionNo: `J-${what}` }) });
    t.equal(res.statusCode, 401, what);
    t.equal(res.json().code, code, what);
  }
  const asSubmitter = await f.app.inject({ method: 'POST', url: '/v1/records/0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b/withdraw', headers: { authorization: `Bearer ${submitter}` }, payload: { reason: 'correction' } });
  t.equal(asSubmitter.statusCode, 403, 'the genuine submitter token may not withdraw');
  t.equal(asSubmitter.json().code, 'ERR_ROLE_DENIED');
  t.equal((await f.db('node_records')).length, 0, 'nothing written by any forged token');
});

for (const engine of await engines()) {
  t.test(`node: a correctly signed token whose user name cannot be audited is 401, not a 500 (${engine.name})`, async (t) => {
    const f = await nodeFixture(t, { engine });
    for (const user of ['a\u0000b', 'ab\ud800', 'line\r\nbreak', 'x'.repeat(121), ...HOSTILE_STRINGS.filter((x) => /[\u0000-\u001f\ud800-\udfff]/.test(x))]) {
      // signed by the node's key (no session can hold such a name: the claim check refuses it first)
      const token = await issueToken(f.config.jwtSecret, '430100', { user, role: 'officer', clearance: 'internal', ttlSeconds: 600, jti: randomUUID() });
      const res = await f.app.inject({ method: 'POST', url: '/v1/records', headers: { authorization: `Bearer ${token}` }, payload: record('CF', { decisionNo: `S-${user}` }) });
      t.equal(res.statusCode, 401, `user ${JSON.stringify(user).slice(0, 30)}`);
      t.equal(res.json().code, 'ERR_AUTH_INVALID');
    }
    // names outside the one user-name rule (server/user-name.ts) get no session, hence no token, and a token signed for one anyway is refused
    for (const user of ["'; DROP TABLE node_records; --", '../../etc/passwd', '张三', 'x'.repeat(120)]) {
      await t.rejects(f.token('officer', 'internal', { user }), { code: 'ERR_REQUEST_INVALID' }, `no session for ${JSON.stringify(user).slice(0, 30)}`);
      const token = await issueToken(f.config.jwtSecret, '430100', { user, role: 'officer', clearance: 'internal', ttlSeconds: 600, jti: randomUUID() });
      const res = await f.app.inject({ method: 'POST', url: '/v1/records', headers: { authorization: `Bearer ${token}` }, payload: record('CF', { decisionNo: `S-${user}` }) });
      t.equal(res.json().code, 'ERR_AUTH_INVALID', `user ${JSON.stringify(user).slice(0, 30)}`);
    }
    t.equal((await f.db('node_records')).length, 0, 'the table is there, nothing written');
  });
}

t.test('node: property — any edit of a real token is refused unless its decoded bytes are unchanged', async (t) => {
  const f = await nodeFixture(t);
  const token = await f.token('query', 'public', { user: 'clerk' });
  const bytes = (tok: string) => tok.split('.').map((x) => Buffer.from(x, 'base64url').toString('hex')).join('.');
  const edit = fc.oneof(
    fc.record({ i: fc.nat({ max: token.length - 1 }), c: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \u0000é') }).map(({ i, c }) => token.slice(0, i) + c + token.slice(i + 1)),
    fc.nat({ max: token.length - 1 }).map((i) => token.slice(0, i)),
    fc.string({ maxLength: 20 }).map((x) => token + x),
    fc.nat({ max: token.length - 1 }).map((i) => token.slice(0, i) + token.slice(i + 1)),
  );
  const seen = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(edit, async (tok) => {
      fc.pre(tok !== token);
      const res = await f.app.inject({ url: '/v1/records/0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b', headers: { authorization: `Bearer ${tok}` } });
      const code = res.json().code as string;
      seen.set(`${res.statusCode} ${code}`, (seen.get(`${res.statusCode} ${code}`) ?? 0) + 1);
      if (res.statusCode === 401) return AUTH_CODES.has(code);
      // Only a spelling of the same bytes (base64url's unused trailing bits) may get through.
      return res.statusCode === 404 && !/[^A-Za-z0-9_.-]/.test(tok) && bytes(tok) === bytes(token);
    }),
    { numRuns: runs(300, 5000) },
  );
  t.pass(`edited tokens: ${[...seen].map(([k, n]) => `${k} ×${n}`).join(', ')}`);
});

t.test('hub: one node speaking for another, re-addressed envelopes, downgrades, no client certificate', async (t) => {
  const f = await hubFixture(t);
  const a = await f.enrol('430100', 3);
  const b = await f.enrol('430700', 3);
  const uscc = String(wire('XK').fields.uscc);
  const payloads = {
    batch: { records: [wire('XK')], withdrawals: [] },
    query: { subject: uscc, actor: 'user:x', clearance: 'public' },
    checkpoint: { checkpoint: { treeSize: 1, rootHash: 'a'.repeat(64), time: new Date().toISOString(), nodeId: '430700', signature: 'c2ln', signerFingerprint: 'b'.repeat(64) }, signerCertPem: b.certPem },
  } as const;
  const routes = { batch: '/v1/batches', query: '/v1/queries', checkpoint: '/v1/checkpoints' } as const;
  for (const type of ['batch', 'query', 'checkpoint'] as const) {
    const path = routes[type];
    const fromB = await f.sealFrom(b, type, payloads[type], { seq: 1 });
    const overA = await f.call(a.agent, 'POST', path, fromB);
    t.equal(overA.status, 403, `${type}: B's envelope (B's key) over A's TLS`);
    t.equal(overA.json.code, 'ERR_SENDER_MISMATCH');
    t.same(overA.json.details, { signer: '430700', peer: '430100' });
    const claimsB = await sealRaw({ type, from: { nodeId: '430700', keyPem: a.keyPem, certPem: a.certPem }, recipientCertPem: f.hubCertPem, seq: 1, plaintext: JSON.stringify(payloads[type]) });
    const claim = await f.call(a.agent, 'POST', path, claimsB);
    t.equal(claim.status, 403, `${type}: A's certificate signs "from: 430700"`);
    t.equal(claim.json.code, 'ERR_SENDER_MISMATCH');
    const toB = await f.sealFrom(a, type, payloads[type], { seq: 1, to: '430700', recipientCertPem: b.certPem });
    const readdressed = await f.call(a.agent, 'POST', path, toB);
    t.equal(readdressed.status, 400, `${type}: sealed to 430700, posted to the hub`);
    t.equal(readdressed.json.code, 'ERR_WRONG_RECIPIENT');
    const lying = await sealRaw({ type, from: a, to: '430700', recipientCertPem: f.hubCertPem, seq: 1, plaintext: JSON.stringify(payloads[type]) });
    t.equal((await f.call(a.agent, 'POST', path, lying)).json.code, 'ERR_WRONG_RECIPIENT', `${type}: encrypted to the hub but addressed to 430700`);
    const edited = { ...(await f.sealFrom(a, type, payloads[type], { seq: 1 })), to: '430700' };
    t.equal((await f.call(a.agent, 'POST', path, edited)).json.code, 'ERR_SIGNATURE_INVALID', `${type}: "to" edited after signing`);
    for (const v of ['0.9', '0.1', '2.0', '9999.0']) {
      const down = await f.call(a.agent, 'POST', path, { ...(await f.sealFrom(a, type, payloads[type], { seq: 1 })), v });
      t.equal(down.status, 400, `${type}: v ${v}`);
      t.equal(down.json.code, 'ERR_PROTOCOL_VERSION', `${type}: v ${v}`);
      t.same(down.json.details.supported, [...SUPPORTED_VERSIONS], 'the answer lists the versions spoken');
    }
  }
  const replayed = await f.call(a.agent, 'POST', '/v1/batches', await f.sealFrom(b, 'batch', payloads.batch, { seq: 1 }));
  t.equal(replayed.json.code, 'ERR_SENDER_MISMATCH', "B's captured batch replayed by A");
  const { seal } = await import('../../protocol/seal.js');
  const newer = await seal({ type: 'batch', from: '430100', to: '430000', seq: a.seq++, v: '1.7', extra: { hint: 'a later minor' }, payload: payloads.batch, sender: { keyPem: a.keyPem, certPem: a.certPem }, recipientCertPem: f.hubCertPem });
  t.equal((await f.call(a.agent, 'POST', '/v1/batches', newer)).status, 200, 'a later minor of 1 (with an unknown header field) is accepted');
  t.equal(Number((await f.hub.app.hubCtx.db('hub_records').count({ n: '*' }).first())?.n), 1, 'only that batch stored anything');
  for (const [method, path] of [['POST', '/v1/batches'], ['POST', '/v1/queries'], ['POST', '/v1/checkpoints'], ['GET', '/v1/checkpoints/latest'], ['GET', '/v1/distributions'], ['POST', '/v1/renew']] as const) {
    const r = await f.call(f.anonymous, method, path, method === 'POST' ? {} : undefined);
    t.equal(r.status, 401, `${method} ${path} without a client certificate`);
    t.equal(r.json.code, 'ERR_CLIENT_CERT_REQUIRED');
  }
});
