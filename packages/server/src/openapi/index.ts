export { openApiDocument } from './document.js';
export { openApiRoute } from './route.js';
export { SERVER_NAME, SERVER_VERSION } from './server-info.js';
