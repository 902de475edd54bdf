/** JSON Schemas of the local API's requests and responses (also the OpenAPI document at /docs). */
import { CLASSIFICATIONS } from '../protocol/classification.js';
import { listRecordTypes } from '../protocol/catalog.js';
import { WITHDRAW_REASONS } from './records-store.js';

export const errorSchema = {
  type: 'object',
  required: ['code', 'message'],
  properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
} as const;

const err = (description: string) => ({ description, ...errorSchema });

/** Error responses every authenticated route may give. */
export const authErrors = {
  400: err('bad request (ERR_REQUEST_INVALID, ERR_PURPOSE_REQUIRED …)'),
  401: err('ERR_AUTH_MISSING / ERR_AUTH_INVALID / ERR_AUTH_EXPIRED'),
  403: err('ERR_ROLE_DENIED / ERR_CLASSIFICATION_DENIED'),
  429: err('ERR_RATE_LIMITED'),
};

export const recordViewSchema = {
  type: 'object',
  required: ['id', 'type', 'classification', 'subject', 'masked', 'status', 'disputed', 'sourceNode', 'createdAt', 'updatedAt', 'fields'],
  properties: {
    id: { type: 'string' },
    type: { type: 'string' },
    classification: { type: 'string', enum: [...CLASSIFICATIONS] },
    subject: { type: 'string', description: 'USCC or resident ID (masked when `masked`)' },
    catalogVersion: { type: 'string', description: 'catalog version the record was validated against (2026.1, 2027.1)' },
    masked: { type: 'boolean', description: 'personal data masked because the clearance is below the record class (or below shared)' },
    status: { type: 'string', enum: ['active', 'withdrawn'] },
    disputed: { type: 'boolean', description: 'an objection (异议) is open' },
    disputedLabel: { type: 'string', enum: ['异议中'], description: 'present while disputed: how the record is shown' },
    withdrawnReason: { type: 'string', enum: [...WITHDRAW_REASONS] },
    withdrawnAt: { type: 'string' },
    decisionDate: { type: 'string' },
    repairFrom: { type: 'string', description: 'first day credit repair may be granted (negative records)' },
    disclosureEnd: { type: 'string', description: 'last day of disclosure (negative records)' },
    severityDerived: { type: 'string', enum: ['disclosureEnd', 'default'], description: 'the severity was not given: derived from 公示截止期 or the province default (severityDefaults)' },
    extra: { type: 'object', additionalProperties: { type: 'string' }, description: 'columns of the imported row that are not catalog fields, by header (full views only)' },
    sourceNode: { type: 'string' },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
    version: { type: 'integer', description: '1 for the first version; each correction adds one' },
    fields: { type: 'object', additionalProperties: true },
  },
} as const;

const recordInput = {
  type: 'object',
  description: `a credit record { type, classification?, catalogVersion?, fields } (types: ${listRecordTypes().map((t) => t.code).join(', ')}; catalogVersion 2027.1 when absent, 2026.1 also accepted)`,
  required: ['type', 'fields'],
  properties: { type: { type: 'string' }, classification: { type: 'string' }, catalogVersion: { type: 'string' }, fields: { type: 'object', additionalProperties: true } },
  additionalProperties: true,
} as const;

export const createRecordsSchema = {
  summary: 'submit one record or an array of records (all or none)',
  tags: ['records'],
  body: { anyOf: [recordInput, { type: 'array', minItems: 1, maxItems: 1000, items: recordInput }] },
  response: {
    200: { $ref: 'createResult#' },
    201: { $ref: 'createResult#' },
    422: err('ERR_RECORD_INVALID: details lists every bad field { index, field, code, message }'),
    ...authErrors,
  },
};

export const createResultSchema = {
  $id: 'createResult',
  type: 'object',
  properties: {
    accepted: { type: 'integer', description: 'new records' },
    duplicates: { type: 'integer', description: 'submissions identical to the current version of a stored record' },
    versions: { type: 'integer', description: 'submissions that became a new version of a stored record (same natural key, other content)' },
    records: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          index: { type: 'integer' }, id: { type: 'string' }, duplicate: { type: 'boolean' },
          outcome: { type: 'string', enum: ['created', 'version', 'duplicate'] }, version: { type: 'integer' }, status: { type: 'string', enum: ['active', 'withdrawn'] },
        },
      },
    },
  },
} as const;

const versionSchema = {
  type: 'object',
  properties: {
    version: { type: 'integer' }, classification: { type: 'string' }, reason: { type: 'string', enum: ['created', 'correction'] }, note: { type: ['string', 'null'] },
    changedBy: { type: 'string' }, changedAt: { type: 'string' }, decisionDate: { type: ['string', 'null'] }, disclosureEnd: { type: ['string', 'null'] },
    fields: { type: 'object', additionalProperties: true },
  },
} as const;

export const importSchema = {
  summary: 'stream a table (CSV in UTF-8 or GB18030/GBK, or XLSX; header row of field names, Chinese labels or older template labels; ?type= required) or an NDJSON file; Accept: text/csv or the XLSX media type answers with the rejected rows as a file',
  tags: ['records'],
  querystring: { type: 'object', additionalProperties: false, properties: { type: { type: 'string', maxLength: 16 }, sheet: { type: 'string', maxLength: 100, description: "XLSX: worksheet name, or its tab's number from 1 (default the first tab Excel shows: not hidden, in tab order)" } } },
  response: {
    200: {
      type: 'object',
      properties: {
        importId: { type: 'string' },
        lines: { type: 'integer' },
        accepted: { type: 'integer' },
        duplicates: { type: 'integer' },
        versions: { type: 'integer', description: 'lines that became a new version of a stored record (same natural key, other content)' },
        rejected: { type: 'integer' },
        truncated: { type: 'boolean', description: 'more lines were rejected than rejectedLines lists' },
        rejectedLinesOmitted: { type: 'integer', description: 'rejected lines counted but not listed (rejectedLinesCap, or the report size limit of ~1 MiB)' },
        problemsTruncated: { type: 'integer', description: 'problems of the listed lines not listed (at most 20 per line)' },
        columns: { type: 'array', items: { type: 'string' }, description: 'table uploads: the header as written (the columns of each rejected line\'s cells)' },
        warnings: { type: 'array', items: { type: 'object', properties: { code: { type: 'string' }, column: { type: 'string' }, message: { type: 'string' } } }, description: 'said once per file: columns kept in extra' },
        duplicateLines: { type: 'array', items: { type: 'integer' }, description: 'rows of duplicates (the first rejectedLinesCap)' },
        severityDerived: { type: 'integer', description: 'accepted records whose 失信程度 was derived, not given' },
        normalised: { type: 'integer', description: 'accepted records with a value normalised (dates, amounts, identifiers, spaces)' },
        rejectedLines: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              line: { type: 'integer' },
              errors: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, code: { type: 'string' }, message: { type: 'string' } } } },
              problemsTruncated: { type: 'integer', description: "this line's problems not listed in errors" },
              subjectName: { type: 'string' },
              decisionNo: { type: 'string' },
              cells: { type: 'array', items: { type: 'string' }, description: 'the row as written, in the columns of `columns`' },
            },
          },
        },
      },
    },
    413: err('ERR_BODY_TOO_LARGE'),
    415: err('ERR_UNSUPPORTED_MEDIA_TYPE'),
    422: err('ERR_IMPORT_HEADER_INVALID / ERR_IMPORT_FORMAT / ERR_UNKNOWN_RECORD_TYPE'),
    ...authErrors,
  },
};

/** Unicode text without NUL: PostgreSQL cannot hold a NUL (a 500 in the store), and a lone surrogate would not be stored verbatim. */
const NO_NUL = '^[^\\u0000\\ud800-\\udfff]*$';
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64, pattern: NO_NUL } } } as const;
const purpose = { type: 'string', minLength: 2, maxLength: 200, pattern: NO_NUL, description: 'why restricted data is read (audited with each release)' } as const;

export const getRecordSchema = {
  summary: 'one record, as the caller may see it',
  tags: ['records'],
  params: idParams,
  querystring: { type: 'object', additionalProperties: false, properties: { purpose } },
  response: { 200: recordViewSchema, 404: err('ERR_RECORD_NOT_FOUND'), ...authErrors },
};

export const subjectSchema = {
  summary: "every record about a subject (USCC or resident ID) the caller may see; scope=province asks the provincial hub instead of this node's store",
  tags: ['subjects'],
  params: { type: 'object', required: ['code'], properties: { code: { type: 'string', minLength: 1, maxLength: 64 } } },
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      purpose,
      includeWithdrawn: { type: 'boolean' },
      scope: { type: 'string', enum: ['local', 'province'], default: 'local', description: 'local: this node\'s store; province: the hub (records of every node this node and the caller may receive)' },
    },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        subject: { type: 'string' },
        scope: { type: 'string', enum: ['local', 'province'] },
        answeredAt: { type: 'string', description: 'hub time of the answer (scope=province)' },
        records: { type: 'array', items: recordViewSchema },
        withheld: { type: 'array', items: { type: 'object', properties: { classification: { type: 'string' }, code: { type: 'string' }, count: { type: 'integer' } } } },
      },
    },
    422: err('ERR_INVALID_USCC / ERR_INVALID_RESIDENT_ID / ERR_UNKNOWN_IDENTIFIER'),
    503: err('ERR_HUB_UNAVAILABLE (scope=province): the hub cannot be reached, or this node has no hub'),
    ...authErrors,
  },
};

const objectionSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' }, recordId: { type: 'string' }, status: { type: 'string', enum: ['open', 'upheld', 'rejected', 'closed'] }, grounds: { type: 'string' },
    filedBy: { type: 'string' }, filedAt: { type: 'string' }, resolvedBy: { type: ['string', 'null'] }, resolvedAt: { type: ['string', 'null'] }, resolutionNote: { type: ['string', 'null'] },
  },
} as const;

export const objectSchema = {
  summary: 'file an objection (异议) against a record; it is flagged disputed until resolved',
  tags: ['repair'],
  params: idParams,
  body: { type: 'object', required: ['grounds'], additionalProperties: false, properties: { grounds: { type: 'string', minLength: 2, maxLength: 4000, pattern: NO_NUL } } },
  response: { 201: objectionSchema, 404: err('ERR_RECORD_NOT_FOUND'), 409: err('ERR_RECORD_NOT_ACTIVE'), ...authErrors },
};

export const resolveSchema = {
  summary: 'resolve an objection: upheld withdraws the record (objection-upheld), rejected clears the flag',
  tags: ['repair'],
  params: idParams,
  body: { type: 'object', required: ['outcome'], additionalProperties: false, properties: { outcome: { type: 'string', enum: ['upheld', 'rejected'] }, note: { type: 'string', maxLength: 4000, pattern: NO_NUL } } },
  response: { 200: objectionSchema, 404: err('ERR_OBJECTION_NOT_FOUND'), 409: err('ERR_OBJECTION_CLOSED / ERR_RECORD_NOT_ACTIVE'), ...authErrors },
};

export const withdrawSchema = {
  summary: 'withdraw a record (never deleted): repair, correction, objection-upheld or expired',
  tags: ['repair'],
  params: idParams,
  body: { type: 'object', required: ['reason'], additionalProperties: false, properties: { reason: { type: 'string', enum: [...WITHDRAW_REASONS] }, note: { type: 'string', maxLength: 4000, pattern: NO_NUL } } },
  response: {
    200: { type: 'object', properties: { id: { type: 'string' }, status: { type: 'string' }, withdrawnReason: { type: 'string' }, withdrawnAt: { type: 'string' } } },
    404: err('ERR_RECORD_NOT_FOUND'),
    409: err('ERR_RECORD_NOT_ACTIVE / ERR_REPAIR_TOO_EARLY / ERR_REPAIR_NOT_APPLICABLE / ERR_DISCLOSURE_NOT_ENDED / ERR_NO_OPEN_OBJECTION'),
    ...authErrors,
  },
};

export const versionsSchema = {
  summary: "every version of a record (who, when, why), oldest first; the current one is the record itself",
  tags: ['records'],
  params: idParams,
  querystring: { type: 'object', additionalProperties: false, properties: { purpose } },
  response: { 200: { type: 'object', properties: { id: { type: 'string' }, current: { type: 'integer' }, versions: { type: 'array', items: versionSchema } } }, 404: err('ERR_RECORD_NOT_FOUND'), ...authErrors },
};

export const correctSchema = {
  summary: 'correct a record (信息更正): a new version with these fields, at its source node only',
  tags: ['records'],
  params: idParams,
  body: {
    type: 'object',
    required: ['fields'],
    additionalProperties: false,
    properties: { classification: { type: 'string', enum: [...CLASSIFICATIONS] }, fields: { type: 'object', additionalProperties: true }, note: { type: 'string', maxLength: 4000, pattern: NO_NUL } },
  },
  response: {
    200: { $ref: 'createResult#' },
    404: err('ERR_RECORD_NOT_FOUND'),
    422: err('ERR_RECORD_INVALID (the natural key — type, decision number, source unit — cannot change; ERR_DECISION_DATE_FUTURE …)'),
    ...authErrors,
    403: err('ERR_NOT_RECORD_OWNER (only the source node corrects a record) / ERR_ROLE_DENIED / ERR_CLASSIFICATION_DENIED'),
  },
};
