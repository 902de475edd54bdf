/** The public API of protocol/: what certs/, audit/, node/, hub/, scripts/ and auditors' tools import. */
export * from './errors.js';
export * from './canonical-json.js';
export * from './classification.js';
export * from './trust.js';
export * from './identifiers.js';
export * from './catalog.js';
export * from './disclosure.js';
export * from './mask.js';
export * from './suites.js';
export * from './version.js';
export * from './envelope.js';
export * from './freshness.js';
export * from './seal.js';
export * from './open.js';
export * from './ca-trust.js';
export { checkSchema, type FieldProblem as SchemaProblem } from './schema-check.js';
export { uuidv7, uuidv7Time, sha256, b64url, certFromPem, privateKeyFromPem, type ParsedCert, type KeyKind } from './crypto.js';
export * from './exchange.js';
