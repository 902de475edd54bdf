/** seal() refuses to encrypt to a recipient key below 2048 bits (issue 13, item 11). */
import t from 'tap';
import { seal } from '../../protocol/seal.js';
import { issue, makeCa } from '../helpers/pki.js';

t.test('sealing to a 1024-bit RSA recipient: ERR_KEY_WEAK', async (t) => {
  const ca = makeCa();
  const sender = issue(ca, '430100');
  const weak = issue(ca, '430000', { bits: 1024 });
  const input = { type: 'batch' as const, from: '430100', to: '430000', seq: 1, payload: { records: [] }, sender: { keyPem: sender.keyPem, certPem: sender.certPem } };
  await t.rejects(seal({ ...input, recipientCertPem: weak.certPem }), { code: 'ERR_KEY_WEAK' });
  const ok = await seal({ ...input, recipientCertPem: issue(ca, '430000').certPem });
  t.equal(ok.to, '430000', 'a 2048-bit recipient is fine');
});
