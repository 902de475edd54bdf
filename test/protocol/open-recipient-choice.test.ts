/**
 * open() with the recipient key chosen per suite (a holder of several keys, as the hub): the choice
 * is made only after the signature and the `to` check, from the registry's suite; a key of another
 * type is refused (ERR_DECRYPT_FAILED), a chooser that throws is ERR_KEY_UNREADABLE. keyKind() keeps
 * its answer per KeyObject, but never 'other' (a point at infinity stays refused every time).
 */
import t from 'tap';
import { createPublicKey } from 'node:crypto';
import { open } from '../../protocol/open.js';
import { seal } from '../../protocol/seal.js';
import { keyKind } from '../../protocol/crypto.js';
import type { Suite } from '../../protocol/suites.js';
import { codeOf, issueEc, makePki } from './envelope-fixtures.js';

const pki = makePki();
const hubEc = issueEc(pki.ca, '430000');
const nodeEc = issueEc(pki.ca, '430100');
const base = { type: 'query' as const, from: '430100', to: '430000', seq: 1, payload: { q: 1 } };

function chooser(haveEc: boolean, calls: string[]) {
  return (s: Suite) => {
    calls.push(s.name);
    return s.keyType === 'ec-p256' && haveEc ? hubEc.keyPem : pki.hub.keyPem;
  };
}

t.test('the key of the suite the envelope names opens it (EC and RSA envelopes, one chooser)', async (t) => {
  const calls: string[] = [];
  const ec = await seal({ ...base, sender: nodeEc, recipientCertPem: hubEc.certPem });
  const rsa = await seal({ ...base, sender: pki.changsha, recipientCertPem: pki.hub.certPem });
  const a = await open(JSON.stringify(ec), { trust: pki.trust, freshness: false, recipient: { nodeId: '430000', keyPem: chooser(true, calls) } });
  const b = await open(JSON.stringify(rsa), { trust: pki.trust, freshness: false, recipient: { nodeId: '430000', keyPem: chooser(true, calls) } });
  t.same(a.payload, { q: 1 });
  t.same(b.payload, { q: 1 });
  t.same(calls, [ec.suite, rsa.suite]);
});

t.test('nothing is chosen before the signature and the recipient are checked', async (t) => {
  const calls: string[] = [];
  const ec = await seal({ ...base, sender: nodeEc, recipientCertPem: hubEc.certPem });
  const badSig = { ...ec, sig: { ...ec.sig, signature: ec.sig.signature.slice(0, -4) + (ec.sig.signature.endsWith('AAAA') ? 'BBBB' : 'AAAA') } };
  t.equal(await codeOf(open(JSON.stringify(badSig), { trust: pki.trust, freshness: false, recipient: { nodeId: '430000', keyPem: chooser(true, calls) } })), 'ERR_SIGNATURE_INVALID');
  t.equal(await codeOf(open(JSON.stringify(ec), { trust: pki.trust, freshness: false, recipient: { nodeId: '430700', keyPem: chooser(true, calls) } })), 'ERR_WRONG_RECIPIENT');
  t.same(calls, []);
});

t.test('a key of another type than the suite is refused; a chooser that throws is ERR_KEY_UNREADABLE', async (t) => {
  const ec = await seal({ ...base, sender: nodeEc, recipientCertPem: hubEc.certPem });
  t.equal(await codeOf(open(JSON.stringify(ec), { trust: pki.trust, freshness: false, recipient: { nodeId: '430000', keyPem: chooser(false, []) } })), 'ERR_DECRYPT_FAILED');
  const boom = () => {
    throw new TypeError('boom');
  };
  t.equal(await codeOf(open(JSON.stringify(ec), { trust: pki.trust, freshness: false, recipient: { nodeId: '430000', keyPem: boom } })), 'ERR_KEY_UNREADABLE');
});

t.test('keyKind: the same answer for the same key object; a P-256 point at infinity is "other" every time', async (t) => {
  const k = createPublicKey(hubEc.certPem);
  t.equal(keyKind(k), 'ec-p256');
  t.equal(keyKind(k), 'ec-p256');
  // SPKI of P-256 with the point at infinity (a single 0x00 byte): Node 20 aborted reading its details (c909d86)
  const infinity = Buffer.concat([Buffer.from('3019301306072a8648ce3d020106082a8648ce3d030107030200', 'hex'), Buffer.from([0x00])]);
  let key;
  try {
    key = createPublicKey({ key: infinity, format: 'der', type: 'spki' });
  } catch {
    t.pass('OpenSSL refuses the point itself');
    return;
  }
  t.equal(keyKind(key), 'other');
  t.equal(keyKind(key), 'other');
});
