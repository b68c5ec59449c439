// Starts Swagger UI on /docs (a served file: the page's policy allows no inline script).
// The schema's address comes from the page: <div id="swagger-ui" data-openapi-url="...">.
"use strict";
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null // the default badge loads an image from validator.swagger.io
  });
})();
