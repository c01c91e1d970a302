/* The installable workbench (seed 002): registers the service worker of apps/web/pwa.py, whose
 * URL (scoped to /workbench/) is this script tag's data-sw-url. It keeps copies of static assets
 * only; a browser without service workers, or one that refuses it, just runs the page as it is. */
(function () {
  "use strict";

  var script = document.currentScript;
  var url = script && script.getAttribute("data-sw-url");
  if (!url || !("serviceWorker" in navigator)) return;
  window.addEventListener("load", function () {
    navigator.serviceWorker.register(url).catch(function () {});
  });
})();
