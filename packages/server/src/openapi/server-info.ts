/** What the server calls itself in v2 server metadata and the OpenAPI document (a test keeps the version equal to package.json's). */
export const SERVER_NAME = 'nodeserve';
export const SERVER_VERSION = '0.1.0';
