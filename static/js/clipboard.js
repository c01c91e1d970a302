/* Copying a text to the clipboard, for the pages that offer a copy button (the integrations
 * page's new API key or webhook secret, the buyer's and the agent's return address card):
 * window.HelpdeskClipboard.copyText(text) resolves to true when it was copied. */
(function () {
  "use strict";

  /** A hidden textarea and execCommand: for pages the browser does not let use the API (plain
   * http on another host than localhost), and where the API refuses. */
  function legacyCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.top = "-1000px";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (error) {
      ok = false;
    }
    document.body.removeChild(area);
    return ok;
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).then(
        function () {
          return true;
        },
        function () {
          return legacyCopy(text);
        }
      );
    }
    return Promise.resolve(legacyCopy(text));
  }

  window.HelpdeskClipboard = { copyText: copyText };
})();
