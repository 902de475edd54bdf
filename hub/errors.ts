import { errorFactory } from '../protocol/errors.js';

/** Codes of hub/: the provincial hub's client checks, intake and registry. */
export const HUB_ERRORS = {
  ERR_CLIENT_CERT_REQUIRED: 'this route needs mutual TLS: present a node certificate from the provincial CA',
  ERR_RENEWAL_RATE_LIMITED: 'this node was issued a certificate too recently; renew again later',
  ERR_NODE_UNKNOWN: 'the certificate belongs to no node enrolled at this hub',
  ERR_ENVELOPE_TYPE: 'envelope type does not fit this route',
  ERR_RECORD_CONFLICT: 'the same record id appears more than once in one batch',
  ERR_RECORD_UNKNOWN: 'withdrawal names a record this node never published to the hub',
  ERR_CATALOG_NOT_PUBLISHED: 'the hub operator has published no province catalog yet',
  ERR_NOTICE_UNROUTABLE: 'the hub cannot route this notice: unknown record or objection, or the sender may not send it (details.reason)',
  ERR_QUALITY_SCOPE_DENIED: 'a node reads the quality indicators of itself and, a 市州 node, of the units of its city only',
  ERR_QUALITY_REGISTER_INVALID: 'the register of expected nodes (互联互通名录) is not a list of distinct 6-digit codes with names',
  ERR_SM2_CA_ABSENT: 'this hub has no SM2 root: it publishes no SM2 CRL (GET /v1/crl/sm2)',
  ERR_REGISTER_JOURNAL: 'the register journal (caDir/register-journal.ndjson) cannot be appended to or read, or could not be reconciled with the store',
  ERR_REGISTER_REPLAYED: 'the store had lost register changes (a restore or a lossy failover); they were applied again from the register journal (hub log only)',
  ERR_HUB_BUSY: 'this hub process is taking as many batches as it may at once (intakeMaxNodes nodes, two batches each); send the batch again after Retry-After',
  ERR_HUB_STORE_NOT_FOUND: 'the hub store named by the config does not exist or holds no hub tables; admin commands never create one',
} as const;

export type HubErrorCode = keyof typeof HUB_ERRORS;
export const hubError = errorFactory(HUB_ERRORS);
