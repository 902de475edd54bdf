import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { FlattenedSign, flattenedVerify } from 'jose';
import { certFromPem, jwsSignDetached, jwsVerifyDetached, privateKeyFromPem, type DetachedJws } from '../../protocol/crypto.js';
import { issueEc, makePki } from './envelope-fixtures.js';

// The detached JWS is made and checked on node:crypto; jose stays the reference on both sides.
const pki = makePki();
const ec = issueEc(pki.ca, '430200');
const keys = {
  PS256: { priv: privateKeyFromPem(pki.changsha.keyPem), pub: certFromPem(pki.changsha.certPem).publicKey },
  ES256: { priv: privateKeyFromPem(ec.keyPem), pub: certFromPem(ec.certPem).publicKey },
};
const payload = Buffer.from('{"header":{"id":"x"},"digest":"abc"}');
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64url');

for (const alg of ['PS256', 'ES256'] as const) {
  const { priv, pub } = keys[alg];

  t.test(`${alg}: ours verifies with jose, jose's verifies with ours`, async (t) => {
    const ours = await jwsSignDetached(payload, priv, { alg });
    const back = await flattenedVerify({ protected: ours.protected, payload: b64(payload), signature: ours.signature }, pub, { algorithms: [alg] });
    t.same(back.protectedHeader, { alg }, 'jose reads the protected header');
    const theirs = await new FlattenedSign(payload).setProtectedHeader({ alg, cty: 'x' }).sign(priv);
    t.equal(await jwsVerifyDetached({ protected: theirs.protected!, signature: theirs.signature }, payload, pub, alg), true);
  });

  t.test(`${alg}: what jose refuses is refused`, async (t) => {
    const good = await jwsSignDetached(payload, priv, { alg });
    const no = async (sig: DetachedJws, p: Uint8Array = payload, key = pub, a: string = alg) => t.equal(await jwsVerifyDetached(sig, p, key, a), false);
    await no(good, Buffer.from('{"header":{"id":"y"},"digest":"abc"}'));
    await no({ ...good, signature: good.signature.slice(0, -2) + (good.signature.endsWith('AA') ? 'BA' : 'AA') });
    await no({ ...good, signature: good.signature + '=' }, payload); // not strict base64url
    await no({ ...good, signature: ` ${good.signature}` });
    await no(good, payload, pub, alg === 'PS256' ? 'ES256' : 'PS256'); // another alg than the header names
    await no(good, payload, priv); // a private key is not a verification key
    await no(good, payload, alg === 'PS256' ? keys.ES256.pub : keys.PS256.pub); // key of the other type
    const critical = await new FlattenedSign(payload).setProtectedHeader({ alg, crit: ['exp'], exp: 1 }).sign(priv).catch(() => undefined);
    const crit = critical ?? { protected: Buffer.from(JSON.stringify({ alg, crit: ['b64'], b64: true })).toString('base64url'), signature: good.signature };
    await no({ protected: crit.protected!, signature: crit.signature });
    await no({ protected: Buffer.from('[1]').toString('base64url'), signature: good.signature });
    await no({ protected: Buffer.from([0xff, 0xfe]).toString('base64url'), signature: good.signature });
  });
}

t.test('signing: the alg must be one the suites use and the key must fit it', async (t) => {
  await t.rejects(jwsSignDetached(payload, keys.PS256.priv, { alg: 'RS256' }), /unsupported JWS alg RS256/);
  await t.rejects(jwsSignDetached(payload, keys.ES256.priv, { alg: 'PS256' }), /cannot sign PS256/);
  await t.rejects(jwsSignDetached(payload, keys.PS256.pub, { alg: 'PS256' }), /cannot sign PS256/);
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
  await t.rejects(jwsSignDetached(payload, small.privateKey, { alg: 'PS256' }), /cannot sign PS256/, 'RSA below 2048 bits, as jose');
  const theirs = await new FlattenedSign(payload).setProtectedHeader({ alg: 'PS256' }).sign(keys.PS256.priv);
  t.equal(await jwsVerifyDetached({ protected: theirs.protected!, signature: theirs.signature }, payload, small.publicKey, 'PS256'), false, 'nor verified with one');
});
