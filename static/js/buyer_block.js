/* SPEC I6 in the agent's buyer panel: the shop's block of the buyer, and blocking or unblocking
 * it for whoever may (the main account, manage_settings: data-can-block), over window.Workbench
 * and window.ChatCards. The panel (buyer_panel.js) tells this module what it drew with a
 * "buyer-panel:rendered" event carrying the panel's data (its `blocked` field) and a reload.
 * Every value from the server is set with textContent; strings come from data-msg-*. */
(function () {
  "use strict";

  var W = window.Workbench;
  var C = window.ChatCards;
  var panel = document.querySelector("[data-buyer-panel]");
  var box = document.querySelector("[data-buyer-block]");
  if (!W || !C || !panel || !box) return;

  var url = box.dataset.blocksUrl || "/api/v1/blocked-buyers/";
  var canBlock = box.dataset.canBlock === "1";
  var el = C.el;

  function msg(name) {
    return box.getAttribute("data-msg-" + name) || W.msg(name);
  }

  function button(text, className) {
    var b = el("button", "button button--small " + (className || ""), text);
    b.type = "button";
    return b;
  }

  function failedLine(r) {
    return msg("failed") + " " + ((r && W.firstError(r.data)) || (r && r.status) || "");
  }

  function render(detail) {
    var data = detail.panel || {};
    var buyer = (data.buyer || {}).external_id;
    var block = data.blocked;
    box.textContent = "";
    box.className = "buyer-block" + (block ? " is-blocked" : "");
    box.hidden = !block && !canBlock;
    if (box.hidden || !buyer) return;
    var feedback = el("p", "form-feedback is-error");
    feedback.setAttribute("role", "alert");
    feedback.hidden = true;
    function say(text) {
      feedback.textContent = text;
      feedback.hidden = !text;
    }
    function send(method, path, body) {
      return W.api(method, path, body).then(
        function (r) {
          if (r.ok) detail.reload();
          else say(failedLine(r));
        },
        function () {
          say(msg("network"));
        }
      );
    }

    if (block) {
      box.appendChild(el("p", "buyer-block__title", msg("blocked")));
      box.appendChild(
        el(
          "p",
          "buyer-block__meta",
          C.fill(msg("blocked-by"), {
            name: block.created_by_name || msg("someone"),
            time: C.when(block.created_at),
          })
        )
      );
      if (block.reason) {
        box.appendChild(el("p", "buyer-block__reason", C.fill(msg("reason"), { reason: block.reason })));
      }
      if (canBlock) {
        var unblock = button(msg("unblock"), "");
        unblock.dataset.unblock = buyer;
        unblock.addEventListener("click", function () {
          unblock.disabled = true;
          send("DELETE", url + encodeURIComponent(buyer) + "/").then(function () {
            unblock.disabled = false;
          });
        });
        box.appendChild(unblock);
      }
      box.appendChild(feedback);
      return;
    }

    // Not blocked, and this account may block: a button that opens a small form with a reason.
    var open = button(msg("block"), "button--quiet");
    open.setAttribute("aria-expanded", "false");
    var form = el("form", "buyer-block__form");
    form.hidden = true;
    form.noValidate = true;
    var id = "buyer-block-reason";
    var label = el("label", "", msg("reason-label"));
    label.htmlFor = id;
    var input = el("input", "");
    input.type = "text";
    input.id = id;
    input.maxLength = 200;
    input.autocomplete = "off";
    var confirm = button(msg("confirm-block"), "button--danger");
    confirm.type = "submit";
    var cancel = button(msg("cancel"), "button--quiet");
    form.appendChild(label);
    form.appendChild(input);
    form.appendChild(confirm);
    form.appendChild(cancel);
    open.addEventListener("click", function () {
      form.hidden = false;
      open.setAttribute("aria-expanded", "true");
      input.focus();
    });
    cancel.addEventListener("click", function () {
      form.hidden = true;
      open.setAttribute("aria-expanded", "false");
      open.focus();
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      confirm.disabled = true;
      send("POST", url, { buyer: buyer, reason: input.value }).then(function () {
        confirm.disabled = false;
      });
    });
    box.appendChild(open);
    box.appendChild(form);
    box.appendChild(feedback);
  }

  panel.addEventListener("buyer-panel:rendered", function (event) {
    render(event.detail || {});
  });
  // A new chat: nothing shown until its panel is drawn.
  W.on("open", function () {
    box.hidden = true;
    box.textContent = "";
  });
})();
