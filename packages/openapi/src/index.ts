// @msa/openapi: the public API as an OpenAPI 3 document (docs/openapi.json).
export { buildDocument, shopServices, openApiPath, routeKey } from './document';
export { routesOf } from './routes';
export type { ServiceRoutes, AnyRoute } from './routes';
export { documentPath, renderDocument } from './render';
export * from './responses';
