// Starts Swagger UI on the API document the page names. A file of its own rather than an
// inline script, so that the page's Content-Security-Policy can forbid inline scripts.
"use strict";
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null, // never send the document to an outside validator
    queryConfigEnabled: false, // no ?url= or ?configUrl= from a link
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
