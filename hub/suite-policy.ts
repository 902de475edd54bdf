/**
 * The hub's suite policy must fit its own keys: the hub seals receipts, distributions, notice
 * receipts/feeds and query answers with its identity, under the same policy it opens with. With an
 * SM2 root in its CA directory the hub also holds an SM2 identity (hub/sm2-identity.ts) and can
 * honour `suites: ["SM"]`; without one such a policy cannot be honoured both ways and the hub
 * refuses to start (ERR_CONFIG_INVALID, key `suites`) rather than open SM only and answer in RSA.
 * The hub's EC P-256 identity (hub/identity.ts) makes `suites: ["EC"]` honourable the same way.
 */
import { keyKind, privateKeyFromPem } from '../protocol/crypto.js';
import { serviceError } from '../protocol/service-errors.js';
import { suitesForKeyType } from '../protocol/suites.js';

export function assertHubCanSeal(keyPem: string, suites: readonly string[] | undefined, sm2KeyPem?: string, ecKeyPem?: string): void {
  if (suites === undefined) return;
  const kind = keyKind(privateKeyFromPem(keyPem));
  if (suitesForKeyType(kind, suites).length > 0) return;
  if (ecKeyPem !== undefined && suitesForKeyType(keyKind(privateKeyFromPem(ecKeyPem)), suites).length > 0) return;
  if (sm2KeyPem !== undefined && suitesForKeyType('sm2', suites).length > 0) return;
  throw serviceError(
    'ERR_CONFIG_INVALID',
    `config key suites: ${JSON.stringify(suites)} admits no suite the hub's own ${kind} key${sm2KeyPem === undefined ? '' : ' or SM2 key'} can seal with${sm2KeyPem === undefined ? ' (the hub holds no SM2 identity: no sm2-ca.pem in its CA directory)' : ''}; add ${kind === 'rsa' ? '"RSA"' : 'a suite for its key'} or remove suites`,
    { key: 'suites', keyType: kind },
  );
}
