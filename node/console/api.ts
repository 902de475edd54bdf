/** The node console asks the node's own API: server/console/api.ts. */
export { callApi, type ApiAnswer } from '../../server/console/api.js';
