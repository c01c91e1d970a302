/* Staff messages in the workbench (seed 001: 子帐号发给主帐号的消息不会分流): a sub-account writes
 * to the shop's main account; the main account chooses a colleague. Never routed, never a
 * buyer's. GET /api/v1/staff-messages/?with_account=<id> (newest first; shown newest at the
 * bottom), POST {to, body}, and live through the agent stream's staff_message.created, which
 * also reaches the sender's other tabs (messages are kept once, by id).
 * Loaded after workbench.js. No dependencies; strings from data-msg-*, data with textContent. */
(function () {
  "use strict";

  var wb = window.Workbench;
  var section = document.querySelector("[data-staff-messages]");
  if (!wb || !section) return;

  var url = section.dataset.url;
  var list = section.querySelector("[data-staff-list]");
  var empty = section.querySelector("[data-staff-empty]");
  var unread = section.querySelector("[data-staff-unread]");
  var form = section.querySelector("[data-staff-form]");
  var input = form.querySelector("textarea");
  var feedback = section.querySelector("[data-staff-feedback]");
  var toSelect = section.querySelector("[data-staff-to]"); // the main account's choice
  var mainId = parseInt(section.dataset.mainId, 10) || null; // a sub-account's recipient
  var seen = {}; // ids drawn in the list
  var unreadCount = 0;
  var loadToken = 0;

  function msg(name) {
    return section.getAttribute("data-msg-" + name) || wb.msg(name) || "";
  }

  var el = wb.el; // the page's own helpers

  var firstError = wb.firstError;

  function say(text) {
    feedback.textContent = text;
    feedback.hidden = !text;
  }

  /** The colleague this panel talks with: the main account, or the main account's choice. */
  function other() {
    if (toSelect) return parseInt(toSelect.value, 10) || null;
    return mainId;
  }

  function when(iso) {
    var at = new Date(iso);
    if (isNaN(at.getTime())) return "";
    var sameDay = at.toDateString() === new Date().toDateString();
    return sameDay ? at.toLocaleTimeString() : at.toLocaleString();
  }

  function draw(m) {
    if (seen[m.id]) return;
    seen[m.id] = true;
    var mine = m.sender === wb.me;
    var item = el("li", "chat__note staff-message" + (mine ? " staff-message--mine" : ""));
    item.dataset.staffMessageId = m.id;
    var head = el("p", "chat__note-meta");
    head.appendChild(el("strong", "", mine ? msg("staff-you") : m.sender_name || ""));
    var time = el("time", "", " · " + when(m.created_at));
    time.dateTime = m.created_at;
    head.appendChild(time);
    item.appendChild(head);
    item.appendChild(el("p", "staff-message__body", m.body));
    // newest at the bottom, in the order of the ids
    var after = null;
    for (var i = 0; i < list.children.length; i++) {
      if (parseInt(list.children[i].dataset.staffMessageId, 10) > m.id) {
        after = list.children[i];
        break;
      }
    }
    list.insertBefore(item, after);
    empty.hidden = true;
    list.scrollTop = list.scrollHeight;
  }

  function clear() {
    list.textContent = "";
    seen = {};
    empty.hidden = false;
  }

  function load() {
    var id = other();
    var token = ++loadToken;
    clear();
    if (!id) return;
    wb.api("GET", url + "?with_account=" + id).then(
      function (r) {
        if (token !== loadToken) return;
        if (!r.ok || !r.data) {
          say(msg("staff-load-failed"));
          return;
        }
        (r.data.results || []).slice().reverse().forEach(draw);
      },
      function () {
        if (token === loadToken) say(msg("staff-load-failed"));
      }
    );
  }

  function showUnread() {
    unread.hidden = unreadCount === 0;
    unread.textContent = String(unreadCount);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var to = other();
    var body = input.value.trim();
    if (!to) {
      say(msg("staff-choose"));
      return;
    }
    if (!body) return;
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    say("");
    wb.api("POST", url, { to: to, body: body }).then(
      function (r) {
        button.disabled = false;
        if (r.ok && r.data) {
          input.value = "";
          if (to === other()) draw(r.data);
        } else {
          say(msg("staff-failed") + " " + (firstError(r.data) || r.status));
        }
      },
      function () {
        button.disabled = false;
        say(msg("staff-failed") + " " + wb.msg("network"));
      }
    );
  });

  // Enter sends, Shift+Enter for a new line (as the chat's composer), never during an IME's
  // composition.
  input.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) {
      return;
    }
    event.preventDefault();
    if (form.requestSubmit) form.requestSubmit();
    else form.dispatchEvent(new Event("submit", { cancelable: true }));
  });

  // Reading the panel clears its unread count.
  section.addEventListener("focusin", function () {
    unreadCount = 0;
    showUnread();
  });

  if (toSelect) toSelect.addEventListener("change", load);

  wb.on("event", function (detail) {
    if (detail.type !== "staff_message.created") return;
    var m = detail.data || {};
    var peer = m.sender === wb.me ? m.recipient : m.sender;
    if (toSelect && !other() && m.sender !== wb.me) {
      // The main account has nobody chosen yet: the writer is chosen for it.
      var option = toSelect.querySelector('option[value="' + m.sender + '"]');
      if (option) {
        toSelect.value = String(m.sender);
        load();
      }
    }
    if (peer === other()) draw(m);
    if (m.sender !== wb.me && !section.contains(document.activeElement)) {
      unreadCount += 1;
      showUnread();
    }
  });

  load();
})();
