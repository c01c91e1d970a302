/* The automatic replies page (SPEC D1-D6): the previews follow the texts as the owner types.
   The server renders the same previews on load with the code that sends the texts; this redoes
   its few rules: an empty text is the default, the queueing text is followed by the position
   line, {minutes} in the closing notice becomes the silence timeout. A switched-off reply's
   preview is dimmed. The page works without it. */
(function () {
  "use strict";

  var form = document.querySelector("[data-replies-form]");
  if (!form) return;

  function render(bubble, value) {
    var own = value.trim();
    var text = own || bubble.getAttribute("data-default") || "";
    var minutes = bubble.getAttribute("data-minutes");
    if (own && minutes !== null) text = text.split("{minutes}").join(minutes);
    bubble.textContent = text + (bubble.getAttribute("data-suffix") || "");
  }

  form.querySelectorAll("[data-preview-source]").forEach(function (input) {
    var name = input.getAttribute("data-preview-source");
    var preview = form.querySelector('[data-preview-for="' + name + '"]');
    if (!preview) return;
    var update = function () {
      preview.querySelectorAll("[data-preview]").forEach(function (bubble) {
        render(bubble, input.value);
      });
    };
    input.addEventListener("input", update);
  });

  form.querySelectorAll("[data-switch]").forEach(function (section) {
    var box = form.querySelector('input[name="' + section.getAttribute("data-switch") + '"]');
    if (!box) return;
    var update = function () {
      section.classList.toggle("auto-reply--off", !box.checked);
    };
    box.addEventListener("change", update);
    update();
  });
})();
