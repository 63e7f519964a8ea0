export { openApiDocument } from './document.js';
export { openApiRoute } from './route.js';
