/* The message pool in the workbench (SPEC B11, E2 "claim from pool"): the pooled conversations
 * (GET /api/v1/conversations/?state=pooled, which lists them to accounts with `chat`), oldest
 * first, each with a Claim button (POST .../{id}/claim/). A claim opens the chat once the
 * conversation is in the agent's list; a refusal (409: claimed by a colleague first, offline, at
 * the maximum) shows the server's message. The list is read again on every conversation.*
 * event of this account's stream, when the tab comes back to the front and, since nobody's
 * stream is told when a buyer joins the pool, every POLL_MS while the tab is visible.
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

  function msg(name) {
    return extras.getAttribute("data-msg-" + name) || wb.msg(name) || "";
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function firstError(payload) {
    if (!payload) return "";
    if (payload.detail) return String(payload.detail);
    for (var field in payload.errors || {}) {
      var errors = payload.errors[field];
      if (errors && errors.length) return String(errors[0]);
    }
    return "";
  }

  function say(text) {
    feedback.textContent = text;
    feedback.hidden = !text;
  }

  function since(iso) {
    var at = new Date(iso);
    if (isNaN(at.getTime())) return "";
    var sameDay = at.toDateString() === new Date().toDateString();
    return sameDay ? at.toLocaleTimeString() : at.toLocaleString();
  }

  function render(rows) {
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
      list.appendChild(item);
    });
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
