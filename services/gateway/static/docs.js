// The /docs page: Swagger UI over the gateway's own copy of docs/openapi.json. Its first server is "/", so
// "Try it out" calls this gateway; "Authorize" takes the token from POST /members/login for the member routes.
/* global SwaggerUIBundle */
window.ui = SwaggerUIBundle({
  url: '/docs/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  displayRequestDuration: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
