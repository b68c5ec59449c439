// Starts ReDoc on /redoc (a served file: the page's policy allows no inline script).
// The schema's address comes from the page: <div id="redoc" data-openapi-url="...">.
// System fonts only: ReDoc's default theme names Roboto and Montserrat, which pages usually
// fetch from Google Fonts; this site loads nothing from elsewhere.
"use strict";
(function () {
  var root = document.getElementById("redoc");
  var sans = '"Noto Sans CJK SC", "Microsoft YaHei", system-ui, sans-serif';
  var mono = 'ui-monospace, "Noto Sans Mono CJK SC", Consolas, monospace';
  Redoc.init(
    root.dataset.openapiUrl,
    {
      theme: {
        typography: {
          fontFamily: sans,
          headings: { fontFamily: sans },
          code: { fontFamily: mono }
        }
      }
    },
    root
  );
})();
