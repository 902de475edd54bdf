import { errorFactory } from '../protocol/errors.js';
import { ACCOUNT_ERRORS } from '../server/account-errors.js';

/** Codes of node/: the city node's config, local API, access control, import and credit repair. */
export const NODE_ERRORS = {
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
  ERR_OBJECTION_SELF_RESOLVE: 'four-eyes rule: the officer who filed an objection may not decide it',
  ERR_REPAIR_NOT_FOUND: 'no such credit repair application',
  ERR_REPAIR_DECIDED: 'the credit repair application has already been decided',
  ERR_REPAIR_REASON_REQUIRED: 'refusing a credit repair application needs a reason',
  ERR_IMPORT_TYPE_REQUIRED: 'a CSV import needs the record type: ?type=CF',
  ERR_IMPORT_HEADER_INVALID: 'the header row lacks a required column of the record type, or cannot be read',
  ERR_IMPORT_FORMAT: 'the upload is a ZIP that is not a readable XLSX workbook, or has no such worksheet',
  ERR_IMPORT_LINE_MALFORMED: 'import line is not a JSON object / well-formed CSV row',
  ERR_IMPORT_FILE_UNREADABLE: 'import file cannot be read',
  ERR_IMPORT_STALLED: 'an XLSX upload sent nothing for a minute while the node was reading it; send it again',
  ERR_IMPORT_BUSY: 'the node is reading as many XLSX workbooks as it may at once; try again in a minute, or import the sheet saved as CSV',
  ERR_IMPORT_UNREACHABLE: 'node could not be reached',
  ERR_IMPORT_BAD_RESPONSE: 'node answered with something that is not an import report',
  ERR_HUB_UNAVAILABLE: 'the provincial hub cannot be reached (or this node is not connected to one); try again later',
  ERR_HUB_CERT_UNTRUSTED: "the hub's TLS certificate does not chain to the provincial CA this node was given (ca.pem)",
  ERR_HUB_NAME_MISMATCH: "the hub's TLS certificate does not carry the host name this node connects to",
  ERR_BACKUP_INVALID: 'not a usable node backup: not a backup directory, of another node or engine, incomplete, or (backup) the target directory is not empty',
  ERR_PLAINTEXT_LISTEN: '节点监听回环地址以外的地址却未配置 TLS：请配置 listen.tls，或明确设置 listen.allowPlaintext: true',
  ERR_REPORT_NO_SIGNER: 'this node holds no signing key and certificate for credit reports (enrol it first: credit node init)',
  ERR_REPORT_UNREACHABLE: 'credit node report: the node could not be reached',
  ERR_HUB_ROLLED_BACK: 'the hub no longer holds batches it had attested (its cosignature of this node\'s audit log covers their receipts): its store was rolled back; the node sends them again and reports it',
  ERR_HUB_ANSWER_INVALID: 'the hub answered with something that does not fit the request (wrong type, batch, recipient or shape)',
} as const;

/** The node's own codes and the account codes it shares with the hub (server/account-errors.ts). */
export type NodeErrorCode = keyof typeof NODE_ERRORS | keyof typeof ACCOUNT_ERRORS;
export const nodeError = errorFactory({ ...NODE_ERRORS, ...ACCOUNT_ERRORS });
