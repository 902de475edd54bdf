/**
 * Tampering: every change to a sealed envelope fails, with the code docs/protocol.md promises.
 *   header field, ciphertext, IV, tag, wrapped key, JWE/JWS protected header, signature,
 *   certificate → ERR_SIGNATURE_INVALID (the signature covers the header and the digest of every
 *   JWE part); a value that is not canonical base64url, a missing field → ERR_ENVELOPE_MALFORMED.
 */
import t from 'tap';
import fc from 'fast-check';
import { isCanonicalBase64url, type Envelope } from '../../protocol/envelope.js';
import { open, verifyEnvelope } from '../../protocol/open.js';
import { seal } from '../../protocol/seal.js';
import { codeOf, forge, makePki } from './envelope-fixtures.js';

const { hub, changsha, changde, trust } = makePki();
const opts = { recipient: { nodeId: '430000', keyPem: hub.keyPem }, trust, freshness: false as const };
const env = await seal({
  type: 'batch',
  from: '430100',
  to: '430000',
  seq: 12,
  payload: { records: Array.from({ length: 20 }, (_, i) => ({ i, text: `record ${i} `.repeat(10) })) },
  sender: changsha,
  recipientCertPem: hub.certPem,
});
const openCode = (x: unknown) => codeOf(open(x, opts));

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** `s` with the character at `i` replaced by another base64url character, keeping it canonical. */
function flip(s: string, i: number, pick: number): string {
  const candidates = [...B64URL].filter((c) => c !== s[i] && isCanonicalBase64url(s.slice(0, i) + c + s.slice(i + 1)));
  const c = candidates[pick % candidates.length]!;
  return s.slice(0, i) + c + s.slice(i + 1);
}

function withPart(e: Envelope, part: 'enc' | 'sig', key: string, value: string): Envelope {
  return { ...e, [part]: { ...e[part], [key]: value } } as Envelope;
}

t.test('the untouched envelope opens (control)', async (t) => {
  t.equal(await openCode(JSON.stringify(env)), 'resolved');
});

const PARTS: Array<['enc' | 'sig', string, string]> = [
  ['enc', 'protected', 'JWE protected header'],
  ['enc', 'encrypted_key', 'wrapped key'],
  ['enc', 'iv', 'IV'],
  ['enc', 'ciphertext', 'ciphertext'],
  ['enc', 'tag', 'GCM tag'],
  ['sig', 'protected', 'JWS protected header'],
  ['sig', 'signature', 'signature'],
];

for (const [part, key, label] of PARTS) {
  t.test(`flipping any character of the ${label} → ERR_SIGNATURE_INVALID`, async (t) => {
    const value = (env[part] as unknown as Record<string, string>)[key]!;
    const fixed = [0, 1, value.length >> 1, value.length - 2, value.length - 1];
    for (const i of fixed) t.equal(await openCode(withPart(env, part, key, flip(value, i, 7))), 'ERR_SIGNATURE_INVALID', `${label} position ${i}`);
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: value.length - 1 }), fc.nat(), async (i, pick) => (await openCode(withPart(env, part, key, flip(value, i, pick)))) === 'ERR_SIGNATURE_INVALID'),
      { numRuns: 25 },
    );
    t.pass(`25 random positions of the ${label}`);
  });
}

t.test('base64url that is not canonical or not base64url → ERR_ENVELOPE_MALFORMED, naming the field', async (t) => {
  const tag = env.enc.tag; // 22 chars: the last one carries 4 unused bits that must be zero
  const loose = tag.slice(0, -1) + B64URL[B64URL.indexOf(tag.at(-1)!) ^ 1];
  t.equal(await openCode(withPart(env, 'enc', 'tag', loose)), 'ERR_ENVELOPE_MALFORMED', 'non-zero trailing bits');
  const e = await open(withPart(env, 'enc', 'iv', env.enc.iv.slice(0, 5) + '*' + env.enc.iv.slice(6)), opts).catch((x: unknown) => x as { code: string; details: unknown });
  t.match(e, { code: 'ERR_ENVELOPE_MALFORMED', details: [{ field: 'enc.iv' }] });
  t.equal(await openCode(withPart(env, 'sig', 'signature', env.sig.signature + '=')), 'ERR_ENVELOPE_MALFORMED', 'padding');
  t.equal(await openCode(withPart(env, 'enc', 'ciphertext', env.enc.ciphertext + 'A')), 'ERR_ENVELOPE_MALFORMED', 'length ≡ 1 (mod 4)');
});

t.test('changing any header field (schema-valid) → ERR_SIGNATURE_INVALID', async (t) => {
  const changes: Array<[string, Partial<Envelope> & Record<string, unknown>]> = [
    ['from', { from: '430700' }],
    ['to', { to: '430700' }],
    ['seq', { seq: 13 }],
    ['ts', { ts: new Date(Date.parse(env.ts) + 1).toISOString() }],
    ['id', { id: env.id.slice(0, -1) + (env.id.endsWith('0') ? '1' : '0') }],
    ['type', { type: 'receipt' }],
    ['v (higher minor: read, then signature fails)', { v: '1.9' }],
    ['suite (the EC suite: the RSA signer key does not fit)', { suite: 'CF1-ECDH-ES-A256KW-A256GCM-ES256' }],
    ['x5c (another valid certificate)', { x5c: [Buffer.from(changde.certPem.replace(/-----[^-]+-----|\s/g, ''), 'base64').toString('base64')] }],
    ['an added header field', { note: 'added' }],
  ];
  for (const [label, change] of changes) t.equal(await openCode({ ...env, ...change }), 'ERR_SIGNATURE_INVALID', label);
  const x5c = env.x5c[0]!;
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: x5c.length - 3 }), fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'), async (i, c) => {
      fc.pre(x5c[i] !== c);
      return (await openCode({ ...env, x5c: [x5c.slice(0, i) + c + x5c.slice(i + 1)] })) === 'ERR_SIGNATURE_INVALID';
    }),
    { numRuns: 25 },
  );
  t.pass('25 random changes inside the certificate');
});

t.test('a smuggled "__proto__" member is part of the signed header, so adding one breaks the signature', async (t) => {
  const text = JSON.stringify(env).replace(/^\{/, '{"__proto__":{"priority":"high"},');
  t.equal(await openCode(text), 'ERR_SIGNATURE_INVALID');
});

t.test('removing a field → ERR_ENVELOPE_MALFORMED', async (t) => {
  for (const k of ['v', 'suite', 'type', 'from', 'to', 'id', 'seq', 'ts', 'x5c', 'enc', 'sig']) {
    const e = { ...env } as Record<string, unknown>;
    delete e[k];
    t.equal(await openCode(e), 'ERR_ENVELOPE_MALFORMED', k);
  }
});

t.test('property: one changed character anywhere in the JSON text never opens, and fails with a documented code', async (t) => {
  const text = JSON.stringify(env);
  const allowed = new Set(['ERR_ENVELOPE_MALFORMED', 'ERR_SIGNATURE_INVALID', 'ERR_PROTOCOL_VERSION', 'ERR_UNKNOWN_SUITE']);
  const seen = new Set<string>();
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: text.length - 1 }), fc.integer({ min: 0x20, max: 0x7e }), async (i, cp) => {
      const c = String.fromCharCode(cp);
      fc.pre(text[i] !== c);
      const code = await openCode(text.slice(0, i) + c + text.slice(i + 1));
      seen.add(code);
      return allowed.has(code);
    }),
    { numRuns: 300 },
  );
  t.ok(seen.has('ERR_SIGNATURE_INVALID') && seen.has('ERR_ENVELOPE_MALFORMED'), `codes seen: ${[...seen].join(', ')}`);
});

t.test('swapping in the ciphertext of another envelope → ERR_SIGNATURE_INVALID', async (t) => {
  const other = await seal({ type: 'batch', from: '430100', to: '430000', seq: 13, payload: { x: 1 }, sender: changsha, recipientCertPem: hub.certPem });
  t.equal(await openCode({ ...env, enc: other.enc }), 'ERR_SIGNATURE_INVALID');
  t.equal(await openCode({ ...env, sig: other.sig }), 'ERR_SIGNATURE_INVALID');
});

t.test("re-sending someone else's ciphertext under one's own valid signature → ERR_ENVELOPE_MALFORMED (enc.protected binding)", async (t) => {
  // 430700 copies 430100's JWE into an envelope it signs itself: the JWE's protected header
  // (GCM AAD, so unchangeable) still binds 430100's id and sender.
  const header = { ...env, from: '430700', id: '01900000-0000-7000-8000-000000000001', x5c: [Buffer.from(changde.certPem.replace(/-----[^-]+-----|\s/g, ''), 'base64').toString('base64')] } as Record<string, unknown>;
  delete header.enc;
  delete header.sig;
  const { resign } = await import('./envelope-fixtures.js');
  const stolen = await resign(env, header as never, changde.keyPem);
  const err = await open(stolen, opts).catch((e: unknown) => e as { code: string; details: unknown });
  t.match(err, { code: 'ERR_ENVELOPE_MALFORMED', details: [{ field: 'enc.protected' }] });
  t.equal(await codeOf(verifyEnvelope(stolen, { trust })), 'ERR_ENVELOPE_MALFORMED', 'auditors see it too');
  const honest = await forge({ header: header as never, payload: { mine: true }, signerKeyPem: changde.keyPem, recipientCertPem: hub.certPem });
  t.equal(await openCode(honest), 'resolved', 'the same header with its own ciphertext opens');
});
