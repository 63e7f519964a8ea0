export { SERVER_VERSION } from '../version.js';

/** What the server calls itself in v2 server metadata and the OpenAPI document. */
export const SERVER_NAME = 'nodeserve';
