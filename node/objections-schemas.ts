/** JSON Schemas of the objection and credit repair routes (also in the OpenAPI document at /docs). */
import { errorSchema } from './schemas.js';

const NO_NUL = '^[^\\u0000\\ud800-\\udfff]*$';
const err = (description: string) => ({ description, ...errorSchema });
const authErrors = {
  400: err('bad request (ERR_REQUEST_INVALID …)'),
  401: err('ERR_AUTH_MISSING / ERR_AUTH_INVALID / ERR_AUTH_EXPIRED'),
  403: err('ERR_ROLE_DENIED / ERR_CLASSIFICATION_DENIED / ERR_NOT_RECORD_OWNER'),
  429: err('ERR_RATE_LIMITED'),
};
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64, pattern: NO_NUL } } } as const;
const nullable = { type: ['string', 'null'] } as const;

export const objectionSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' }, recordId: { type: 'string' }, status: { type: 'string', enum: ['open', 'upheld', 'rejected', 'closed'] }, grounds: { type: 'string' },
    filedBy: { type: 'string' }, filedAt: { type: 'string' }, resolvedBy: nullable, resolvedAt: nullable, resolutionNote: nullable,
    ownerNode: { type: 'string', description: 'the record\'s source node: the only node that decides' },
    filedNode: { type: 'string', description: 'the node where the objection was filed' },
    dueDate: { ...nullable, description: 'last working day for the decision (province working-day calendar)' },
    overdue: { type: 'boolean', description: 'open and past its due date' },
  },
} as const;

export const objectSchema = {
  summary: 'file an objection (异议) against a record, at any node that holds it; sent to its owner through the hub',
  tags: ['objections'],
  params: idParams,
  body: { type: 'object', required: ['grounds'], additionalProperties: false, properties: { grounds: { type: 'string', minLength: 2, maxLength: 4000, pattern: NO_NUL } } },
  response: { 201: objectionSchema, 404: err('ERR_RECORD_NOT_FOUND'), 409: err('ERR_RECORD_NOT_ACTIVE'), ...authErrors },
};

export const resolveSchema = {
  summary: 'decide an objection at the record\'s owner: upheld withdraws the record (objection-upheld), rejected clears the mark',
  tags: ['objections'],
  params: idParams,
  body: { type: 'object', required: ['outcome'], additionalProperties: false, properties: { outcome: { type: 'string', enum: ['upheld', 'rejected'] }, note: { type: 'string', maxLength: 4000, pattern: NO_NUL } } },
  response: { 200: objectionSchema, 403: err('ERR_NOT_RECORD_OWNER / ERR_OBJECTION_SELF_RESOLVE / ERR_ROLE_DENIED'), 404: err('ERR_OBJECTION_NOT_FOUND'), 409: err('ERR_OBJECTION_CLOSED / ERR_RECORD_NOT_ACTIVE') },
};

const statusQuery = (statuses: readonly string[]) => ({
  type: 'object',
  additionalProperties: false,
  properties: { status: { type: 'string', enum: [...statuses] }, overdue: { type: 'boolean', description: 'only those past their due date' } },
});

export const listObjectionsSchema = {
  summary: 'objections held at this node (filed here or about its records), by status; overdue=true: open and past the deadline',
  tags: ['objections'],
  querystring: statusQuery(['open', 'upheld', 'rejected', 'closed']),
  response: { 200: { type: 'array', items: objectionSchema }, ...authErrors },
};

export const recordObjectionsSchema = {
  summary: 'the objections about one record',
  tags: ['objections'],
  params: idParams,
  response: { 200: { type: 'array', items: objectionSchema }, 404: err('ERR_RECORD_NOT_FOUND'), ...authErrors },
};

export const repairSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' }, recordId: { type: 'string' }, status: { type: 'string', enum: ['pending', 'accepted', 'refused'] },
    origin: { type: 'string', enum: ['application', 'upstream'] }, evidence: { type: 'array', items: { type: 'string' } }, commitment: nullable,
    appliedBy: { type: 'string' }, appliedAt: { type: 'string' }, dueDate: nullable, decidedBy: nullable, decidedAt: nullable, reason: nullable, upstream: nullable,
    overdue: { type: 'boolean' },
  },
} as const;

export const applyRepairSchema = {
  summary: 'apply for credit repair (信用修复) of a negative record, at its owner node: evidence references and the 信用承诺 text',
  tags: ['repairs'],
  params: idParams,
  body: {
    type: 'object',
    required: ['evidence', 'commitment'],
    additionalProperties: false,
    properties: {
      evidence: { type: 'array', minItems: 1, maxItems: 50, items: { type: 'string', minLength: 1, maxLength: 200, pattern: NO_NUL }, description: 'references to the evidence (document numbers, file ids)' },
      commitment: { type: 'string', minLength: 2, maxLength: 4000, pattern: NO_NUL, description: '信用承诺 text' },
    },
  },
  response: { 201: repairSchema, 404: err('ERR_RECORD_NOT_FOUND'), 409: err('ERR_RECORD_NOT_ACTIVE / ERR_REPAIR_NOT_APPLICABLE'), ...authErrors },
};

export const decideRepairSchema = {
  summary: 'decide a repair application: accepted withdraws the record everywhere (reason repair); refused needs a reason',
  tags: ['repairs'],
  params: idParams,
  body: { type: 'object', required: ['outcome'], additionalProperties: false, properties: { outcome: { type: 'string', enum: ['accepted', 'refused'] }, reason: { type: 'string', maxLength: 4000, pattern: NO_NUL } } },
  response: { 200: repairSchema, 404: err('ERR_REPAIR_NOT_FOUND'), 409: err('ERR_REPAIR_DECIDED / ERR_REPAIR_TOO_EARLY / ERR_RECORD_NOT_ACTIVE'), 422: err('ERR_REPAIR_REASON_REQUIRED'), ...authErrors },
};

export const listRepairsSchema = {
  summary: 'repair applications and decisions at this node, by status; overdue=true: pending past the deadline',
  tags: ['repairs'],
  querystring: statusQuery(['pending', 'accepted', 'refused']),
  response: { 200: { type: 'array', items: repairSchema }, ...authErrors },
};

export const recordRepairsSchema = {
  summary: 'the repair applications and decisions of one record',
  tags: ['repairs'],
  params: idParams,
  response: { 200: { type: 'array', items: repairSchema }, 404: err('ERR_RECORD_NOT_FOUND'), ...authErrors },
};

export const upstreamRepairsSchema = {
  summary: 'import repair decisions taken upstream (a department, 信用中国) on this node\'s records; each line applied on its own',
  tags: ['repairs'],
  body: {
    type: 'array',
    minItems: 1,
    maxItems: 1000,
    items: {
      type: 'object',
      required: ['outcome', 'decidedBy', 'reference', 'decidedAt'],
      additionalProperties: false,
      properties: {
        recordId: { type: 'string', maxLength: 64, pattern: NO_NUL },
        type: { type: 'string', maxLength: 16, pattern: NO_NUL },
        key: { type: 'object', additionalProperties: { type: 'string', maxLength: 200, pattern: NO_NUL } },
        outcome: { type: 'string', enum: ['accepted', 'refused'] },
        decidedBy: { type: 'string', minLength: 1, maxLength: 100, pattern: NO_NUL },
        reference: { type: 'string', minLength: 1, maxLength: 100, pattern: NO_NUL },
        decidedAt: { type: 'string', minLength: 10, maxLength: 30, pattern: NO_NUL },
        reason: { type: 'string', maxLength: 4000, pattern: NO_NUL },
      },
    },
  },
  response: {
    200: { type: 'object', properties: { lines: { type: 'integer' }, applied: { type: 'integer' }, rejected: { type: 'array', items: { type: 'object', properties: { line: { type: 'integer' }, code: { type: 'string' }, message: { type: 'string' } } } } } },
    ...authErrors,
  },
};
