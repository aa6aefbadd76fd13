// Swagger UI for /docs: the spec is this service's (read with the UI's session when a
// token is set); "Authorize" takes the API token for "Try it out".
(function () {
  var box = document.getElementById("swagger-ui-container");
  var config = JSON.parse(box.getAttribute("data-config") || "{}");
  config.url = box.getAttribute("data-spec-url");
  config.dom_id = "#swagger-ui-container";
  window.ui = SwaggerUIBundle(config);
})();
