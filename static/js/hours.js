/* Business hours page (SPEC D2): "add a range" and "add an exception" buttons. Without this
   script the page still works: every day and the exceptions always end with empty rows. */
(function () {
  "use strict";

  function addRow(form, prefix, lastRow, place) {
    var total = form.querySelector('input[name="' + prefix + '-TOTAL_FORMS"]');
    var index = parseInt(total.value, 10);
    var row = lastRow.cloneNode(true);
    var pattern = new RegExp("^(id_)?" + prefix + "-\\d+-");
    row.querySelectorAll('input[name$="-DELETE"]').forEach(function (box) {
      var wrap = box.closest(".check");
      (wrap || box).remove();
    });
    row.querySelectorAll(".errorlist").forEach(function (list) {
      list.remove();
    });
    row.classList.remove("hours-row--invalid");
    row.querySelectorAll("input, select, label").forEach(function (el) {
      ["name", "id", "for"].forEach(function (attr) {
        var value = el.getAttribute(attr);
        if (value && pattern.test(value)) {
          el.setAttribute(attr, value.replace(pattern, "$1" + prefix + "-" + index + "-"));
        }
      });
      if (el.tagName === "INPUT" && el.type !== "hidden") {
        if (el.type === "checkbox") {
          el.checked = false;
        } else {
          el.value = "";
        }
        el.removeAttribute("aria-invalid");
      }
    });
    place(row);
    total.value = String(index + 1);
    var first = row.querySelector('input:not([type="hidden"])');
    if (first) {
      first.focus();
    }
  }

  function init() {
    var form = document.querySelector("[data-hours-form]");
    if (!form) {
      return;
    }
    form.querySelectorAll("[data-add-weekly]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var rows = button.parentElement.querySelectorAll("[data-row]");
        addRow(form, "weekly", rows[rows.length - 1], function (row) {
          button.parentElement.insertBefore(row, button);
        });
      });
    });
    // "Closed all day" drops the day's ranges on saving: show them as set aside.
    form.querySelectorAll('input[name="closed_weekdays"]').forEach(function (box) {
      var day = box.closest(".hours-day");
      box.addEventListener("change", function () {
        day.classList.toggle("is-closed", box.checked);
      });
    });
    var addException = form.querySelector("[data-add-exception]");
    var list = form.querySelector("[data-exception-rows]");
    if (addException && list) {
      addException.hidden = false;
      addException.addEventListener("click", function () {
        var rows = list.querySelectorAll("[data-row]");
        addRow(form, "exceptions", rows[rows.length - 1], function (row) {
          list.appendChild(row);
        });
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
