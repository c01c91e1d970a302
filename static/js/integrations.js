/* The integrations page (issue 12): copy a new API key or webhook secret, shown once. */
(function () {
  "use strict";

  var copyText = window.HelpdeskClipboard.copyText; // static/js/clipboard.js

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      var box = button.closest(".secret-box");
      var status = box ? box.querySelector("[data-copy-status]") : null;
      if (!source) return;
      copyText(source.textContent.trim()).then(function (ok) {
        if (status) {
          status.textContent = button.getAttribute(ok ? "data-msg-copied" : "data-msg-failed");
        }
        if (!ok) {
          var range = document.createRange();
          range.selectNodeContents(source);
          var selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
        }
      });
    });
  });
})();
