// The group form (SPEC B4, G1): a filter box above each long list of scope choices. No
// dependencies; loaded with defer, no inline handlers (CSP).
(function () {
  "use strict";
  var MIN_OPTIONS = 8;
  var form = document.querySelector("[data-group-form]");
  if (!form) return;
  var lists = form.querySelectorAll(".scope-fields fieldset");
  Array.prototype.forEach.call(lists, function (fieldset) {
    var options = fieldset.querySelectorAll("label");
    if (options.length < MIN_OPTIONS) return;
    var legend = fieldset.querySelector("legend");
    var box = document.createElement("input");
    box.type = "search";
    box.className = "scope-filter";
    box.setAttribute("aria-label", (form.dataset.filterLabel || "Filter") + ": " + (legend ? legend.textContent : ""));
    box.placeholder = form.dataset.filterLabel || "Filter";
    var list = options[0].closest("fieldset > div");
    fieldset.insertBefore(box, list);
    box.addEventListener("input", function () {
      var needle = box.value.trim().toLowerCase();
      Array.prototype.forEach.call(options, function (label) {
        var row = label.parentElement;
        var hit = !needle || label.textContent.toLowerCase().indexOf(needle) !== -1;
        row.hidden = !hit;
      });
    });
  });
})();
