import { errorFactory } from '../protocol/errors.js';

/** Codes of node/: the city node's config, local API, access control, import and credit repair. */
export const NODE_ERRORS = {
  ERR_AUTH_MISSING: 'no bearer token: send Authorization: Bearer <token from `credit node token`>',
  ERR_AUTH_INVALID: 'bearer token is malformed, tampered with, unsigned or signed with another key',
  ERR_AUTH_EXPIRED: 'bearer token has expired',
  ERR_ROLE_DENIED: "the caller's role may not do this",
  ERR_PURPOSE_REQUIRED: 'reading restricted (授权查询) data needs a stated purpose (?purpose=…)',
  ERR_RECORD_NOT_FOUND: 'no such record',
  ERR_RECORD_NOT_ACTIVE: 'the record is already withdrawn',
  ERR_NOT_RECORD_OWNER: 'only the record\'s source node may withdraw it or publish it (a node speaks only for its own records)',
  ERR_REPAIR_TOO_EARLY: 'credit repair is not yet possible: the minimum disclosure period has not passed',
  ERR_REPAIR_NOT_APPLICABLE: 'credit repair applies only to negative records',
  ERR_DISCLOSURE_NOT_ENDED: "the record's disclosure window has not ended",
  ERR_NO_OPEN_OBJECTION: 'the record has no open objection to uphold',
  ERR_OBJECTION_NOT_FOUND: 'no such objection',
  ERR_OBJECTION_CLOSED: 'the objection has already been resolved',
  ERR_IMPORT_TYPE_REQUIRED: 'a CSV import needs the record type: ?type=CF',
  ERR_IMPORT_HEADER_INVALID: 'CSV header names a column that is not a field of the record type',
  ERR_IMPORT_LINE_MALFORMED: 'import line is not a JSON object / well-formed CSV row',
  ERR_IMPORT_FILE_UNREADABLE: 'import file cannot be read',
  ERR_IMPORT_UNREACHABLE: 'node could not be reached',
  ERR_IMPORT_BAD_RESPONSE: 'node answered with something that is not an import report',
  ERR_HUB_UNAVAILABLE: 'the provincial hub cannot be reached (or this node is not connected to one); try again later',
  ERR_HUB_ANSWER_INVALID: 'the hub answered with something that does not fit the request (wrong type, batch, recipient or shape)',
} as const;

export type NodeErrorCode = keyof typeof NODE_ERRORS;
export const nodeError = errorFactory(NODE_ERRORS);
