export { NodeserveError, type CatalogueError, type ErrorDeclaration, type NodeserveErrorOptions } from './nodeserve-error.js';
