/** Every package's error table, for the docs check. Add a package's table here when it has one. */
import { PROTOCOL_ERRORS } from '../../protocol/errors.js';
import { SERVICE_ERRORS } from '../../protocol/service-errors.js';
import { CERT_ERRORS } from '../../certs/errors.js';
import { AUDIT_ERRORS } from '../../audit/errors.js';
import { EVIDENCE_ERRORS } from '../../audit/evidence-errors.js';
import { CLI_ERRORS } from '../../scripts/errors.js';
import { NODE_ERRORS } from '../../node/errors.js';
import { HUB_ERRORS } from '../../hub/errors.js';
import { ACCOUNT_ERRORS } from '../../server/account-errors.js';

export const ALL_ERROR_TABLES: Record<string, Record<string, string>> = {
  protocol: PROTOCOL_ERRORS,
  service: SERVICE_ERRORS,
  certs: CERT_ERRORS,
  audit: AUDIT_ERRORS,
  evidence: EVIDENCE_ERRORS,
  scripts: CLI_ERRORS,
  node: NODE_ERRORS,
  hub: HUB_ERRORS,
  accounts: ACCOUNT_ERRORS,
};
