/* The message pool in the workbench (SPEC B11, E2 "claim from pool"): the pooled conversations
 * (GET /api/v1/conversations/?state=pooled, which lists them to accounts with `chat`), oldest
 * first, each with a Claim button (POST .../{id}/claim/). A claim opens the chat once the
 * conversation is in the agent's list; a refusal (409: claimed by a colleague first, offline, at
 * the maximum) shows the server's message. The list is read again on every conversation.*
 * event of this account's stream, when the tab comes back to the front and, since nobody's
 * stream is told when a buyer joins the pool, every POLL_MS while the tab is visible.
 * The main account also assigns a pooled conversation by hand ("Assign to…", data-can-assign):
 * a select of the colleagues online now (the workbench's own transfer targets, read again from
 * this page when the form opens) that posts POST .../{id}/transfer/ {to_account}; a refusal
 * shows the server's message.
 * Loaded after workbench.js. No dependencies; strings from data-msg-*. */
(function () {
  "use strict";

  var wb = window.Workbench;
  var section = document.querySelector("[data-pool]");
  var extras = document.querySelector("[data-chat-extras]");
  if (!wb || !section || !extras) return;

  var POLL_MS = 15000;
  var OPEN_WAIT_MS = 5000; // how long a claimed conversation may take to reach the agent's list
  var list = section.querySelector("[data-pool-list]");
  var empty = section.querySelector("[data-pool-empty]");
  var count = section.querySelector("[data-pool-count]");
  var feedback = section.querySelector("[data-pool-feedback]");
  var url = section.dataset.poolUrl;
  var canAssign = section.dataset.canAssign === "1";
  var assigning = null; // {id, value}: the pooled conversation whose "Assign to" form is open
  var targets = []; // [{id, name}]: the colleagues online, as the page listed them last

  function msg(name) {
    return extras.getAttribute("data-msg-" + name) || wb.msg(name) || "";
  }

  var el = wb.el; // the page's own helpers

  var firstError = wb.firstError;

  function say(text, ok) {
    feedback.textContent = text;
    feedback.hidden = !text;
    feedback.classList.toggle("is-error", !ok);
    feedback.setAttribute("role", ok ? "status" : "alert");
  }

  function since(iso) {
    var at = new Date(iso);
    if (isNaN(at.getTime())) return "";
    var sameDay = at.toDateString() === new Date().toDateString();
    return sameDay ? at.toLocaleTimeString() : at.toLocaleString();
  }

  var lastRows = [];

  /** The colleagues online now: the workbench page's transfer targets, read again. */
  function loadTargets() {
    return fetch(window.location.pathname, { credentials: "same-origin" })
      .then(function (r) {
        return r.ok ? r.text() : "";
      })
      .then(
        function (html) {
          if (!html) return;
          var page = new DOMParser().parseFromString(html, "text/html");
          var options = page.querySelectorAll('[data-transfer-select] option[value^="account:"]');
          targets = [];
          Array.prototype.forEach.call(options, function (option) {
            if (option.disabled || option.getAttribute("data-status") !== "online") return;
            targets.push({
              id: parseInt(option.value.slice("account:".length), 10),
              name: option.getAttribute("data-name") || option.textContent,
              label: option.textContent,
            });
          });
        },
        function () {}
      );
  }

  function assignForm(id) {
    var form = el("form", "pool__assign");
    form.noValidate = true;
    var selectId = "pool-assign-" + id;
    var label = el("label", "", msg("assign-to"));
    label.htmlFor = selectId;
    form.appendChild(label);
    var select = el("select");
    select.id = selectId;
    select.dataset.assignSelect = "";
    select.appendChild(el("option", "", msg("choose"))).value = "";
    targets.forEach(function (t) {
      var option = el("option", "", t.label);
      option.value = String(t.id);
      option.dataset.name = t.name;
      select.appendChild(option);
    });
    select.value = assigning.value;
    select.addEventListener("change", function () {
      if (assigning) assigning.value = select.value;
    });
    form.appendChild(select);
    var submit = el("button", "button button--small button--primary", msg("assign-submit"));
    submit.type = "submit";
    form.appendChild(submit);
    if (!targets.length) form.appendChild(el("p", "field__help", msg("assign-none")));
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var to = parseInt(select.value, 10);
      if (!to) {
        select.focus();
        return;
      }
      var name = select.options[select.selectedIndex].dataset.name || "";
      submit.disabled = true;
      say("");
      wb.api("POST", wb.conversationsUrl + id + "/transfer/", { to_account: to }).then(
        function (r) {
          submit.disabled = false;
          if (r.ok) {
            assigning = null;
            say(msg("assigned").replace("{name}", name), true);
          } else {
            say(msg("assign-failed") + " " + (firstError(r.data) || r.status));
          }
          refresh();
        },
        function () {
          submit.disabled = false;
          say(msg("assign-failed") + " " + wb.msg("network"));
        }
      );
    });
    return form;
  }

  function render(rows) {
    lastRows = rows;
    var focused = document.activeElement;
    var keepFocus = focused && list.contains(focused) && focused.hasAttribute("data-assign-select");
    list.textContent = "";
    rows.forEach(function (conv) {
      var item = el("li", "pool__item");
      item.dataset.poolId = conv.id;
      var who = el("div", "pool__who");
      var buyer = conv.buyer || {};
      who.appendChild(el("span", "pool__name", buyer.name || buyer.external_id || "?"));
      var started = conv.human_requested_at || conv.created_at;
      if (started) {
        var time = el("time", "pool__since", msg("pool-since").replace("{time}", since(started)));
        time.dateTime = started;
        who.appendChild(time);
      }
      item.appendChild(who);
      var claim = el("button", "button button--small button--primary", msg("claim"));
      claim.type = "button";
      claim.addEventListener("click", function () {
        claimIt(conv.id, claim);
      });
      item.appendChild(claim);
      if (canAssign) {
        var assign = el("button", "button button--small", msg("assign"));
        assign.type = "button";
        assign.setAttribute("aria-expanded", assigning && assigning.id === conv.id ? "true" : "false");
        assign.addEventListener("click", function () {
          if (assigning && assigning.id === conv.id) {
            assigning = null;
            render(lastRows);
          } else {
            assigning = { id: conv.id, value: "" };
            loadTargets().then(function () {
              render(lastRows);
              var select = list.querySelector("[data-assign-select]");
              if (select) select.focus();
            });
          }
        });
        item.appendChild(assign);
        if (assigning && assigning.id === conv.id) item.appendChild(assignForm(conv.id));
      }
      list.appendChild(item);
    });
    if (assigning && !rows.some(function (c) { return c.id === assigning.id; })) assigning = null;
    if (keepFocus) {
      var fresh = list.querySelector("[data-assign-select]");
      if (fresh) fresh.focus();
    }
    empty.hidden = rows.length > 0;
    count.hidden = rows.length === 0;
    count.textContent = String(rows.length);
  }

  // One read at a time; a change meanwhile asks for one more read after it.
  var reading = false;
  var again = false;

  function refresh() {
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    again = false;
    wb.api("GET", url)
      .then(
        function (r) {
          if (!r.ok || !r.data) return;
          var rows = (r.data.results || []).slice().sort(function (a, b) {
            var at = Date.parse(a.human_requested_at || a.created_at) || 0;
            var bt = Date.parse(b.human_requested_at || b.created_at) || 0;
            return at - bt || a.id - b.id; // oldest first, as the hand-out goes (B11)
          });
          render(rows);
        },
        function () {}
      )
      .then(function () {
        reading = false;
        if (again) refresh();
      });
  }

  /** Opens the chat of a claimed conversation once the workbench lists it (its event). */
  function openWhenListed(id) {
    var deadline = Date.now() + OPEN_WAIT_MS;
    (function look() {
      var button = document.querySelector(
        '[data-conversation-list] button[data-id="' + id + '"]'
      );
      if (button) {
        button.click();
      } else if (Date.now() < deadline) {
        window.setTimeout(look, 100);
      }
    })();
  }

  function claimIt(id, button) {
    button.disabled = true;
    say("");
    wb.api("POST", wb.conversationsUrl + id + "/claim/").then(
      function (r) {
        if (r.ok) {
          openWhenListed(id);
        } else {
          say(msg("claim-failed") + " " + (firstError(r.data) || r.status));
          button.disabled = false;
        }
        refresh();
      },
      function () {
        button.disabled = false;
        say(msg("claim-failed") + " " + wb.msg("network"));
      }
    );
  }

  wb.on("event", function (detail) {
    if (detail.type.indexOf("conversation.") === 0) refresh();
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) refresh();
  });
  window.setInterval(function () {
    if (!document.hidden) refresh();
  }, POLL_MS);
  refresh();
})();
