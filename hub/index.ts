/** The public API of hub/: what scripts/ and end-to-end tests import. */
export { buildHub, type BuildHubOptions } from './app.js';
export type { HubContext } from './route-context.js';
export { startHub, closeHubOnSignals, type RunningHub } from './server.js';
export { buildHubConfig, loadHubConfig, readHubConfig, readHubConfigFile, HUB_ENV_KEYS, type HubConfig } from './config.js';
export { HUB_CONFIG_SCHEMA } from './config-schema.js';
export { HUB_ERRORS, hubError, type HubErrorCode } from './errors.js';
export { HUB_HTTP_STATUS } from './http-errors.js';
export { makeToken, revokeNode } from './enrolment-service.js';
export { openHubCa, DbCertRegistry, type HubCa } from './ca-store.js';
export { migrateHub, rollbackHub, HUB_MIGRATIONS_TABLE } from './migrations.js';
export { nodesStore, type HubNode } from './nodes-store.js';
