/* Small progressive enhancements shared by every page. The pages work without them. */
(function () {
  "use strict";

  // The language switch submits on change; its button is only needed without JavaScript.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () {
      if (select.form) select.form.submit();
    });
  });
  document.querySelectorAll("[data-js-hide]").forEach(function (element) {
    element.classList.add("js-hidden");
  });

  // An error summary takes the focus so that screen readers announce it after a failed submit.
  var summary = document.querySelector("[data-autofocus]");
  if (summary) summary.focus();
})();
