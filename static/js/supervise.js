/* Supervision in the workbench (SPEC I3, amended decision): for the main account and view_monitor
 * accounts, the shop's live conversations (GET /api/v1/conversations/live/: buyer, agent, when it
 * started, whether the buyer waits, the last message), each with Watch.
 *
 * Watching (POST .../{id}/watch/) opens the conversation read-only in the chat view
 * (Workbench.openReadOnly): its history through REST, then its events live on this account's
 * socket (the server sends a watcher the chat's events as it sends them to the holding agent);
 * internal notes show and may be added (buyer_panel.js's form); no reply box. A banner says whose
 * conversation it is, with Stop watching and, with the chat permission too, Take over (asks
 * first; POST .../{id}/take-over/, then it is this account's own conversation, Workbench.adopt).
 * Opening another chat, stopping, or leaving the page stops watching (DELETE .../{id}/watch/;
 * fetch with keepalive, since sendBeacon only POSTs).
 *
 * The list is read when the page opens, with its Refresh button, when the tab comes back to the
 * front, after every change made here, on this account's conversation and queue events (a
 * buyer taken from the queue is a new live conversation) and messages of listed conversations
 * (those it watches or holds), and every LIST_MS while the tab is visible (nobody's stream is
 * told of every conversation of the shop). Loaded after
 * workbench.js; no dependencies; strings from data-msg-*, values set with textContent. */
(function () {
  "use strict";

  var wb = window.Workbench;
  var section = document.querySelector("[data-supervise]");
  if (!wb || !section) return;

  var LIST_MS = 30000;
  var PAGE = 200; // the longest served first; the badge counts them all
  var EVENT_DELAY_MS = 800; // events come in bursts: one read for a burst

  var list = section.querySelector("[data-supervise-list]");
  var empty = section.querySelector("[data-supervise-empty]");
  var more = section.querySelector("[data-supervise-more]");
  var count = section.querySelector("[data-supervise-count]");
  var feedback = section.querySelector("[data-supervise-feedback]");
  var refreshButton = section.querySelector("[data-supervise-refresh]");
  var url = section.dataset.liveUrl;
  var canTakeOver = section.dataset.canTakeOver === "1";

  var banner = document.querySelector("[data-watch-banner]");
  var bannerTitle = banner.querySelector("[data-watch-banner-title]");
  var bannerHelp = banner.querySelector("[data-watch-banner-help]");
  var bannerFeedback = banner.querySelector("[data-watch-feedback]");
  var stopButton = banner.querySelector("[data-watch-stop]");
  var takeButton = banner.querySelector("[data-watch-take-over]");
  var dialog = document.querySelector("[data-take-over-dialog]");
  var csrfInput = document.querySelector("[data-workbench] input[name=csrfmiddlewaretoken]");

  var el = wb.el;
  var firstError = wb.firstError;
  var rows = []; // the live conversations as last read (the first PAGE of them)
  var total = 0; // how many there are
  var watching = null; // {id, agent, live, ended, data}: the conversation watched in the chat view

  function msg(name) {
    return section.getAttribute("data-msg-" + name) || wb.msg(name) || "";
  }

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (all, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : all;
    });
  }

  function say(node, text) {
    node.textContent = text || "";
    node.hidden = !text;
  }

  function when(iso) {
    var at = new Date(iso);
    if (isNaN(at.getTime())) return "";
    var sameDay = at.toDateString() === new Date().toDateString();
    return sameDay ? at.toLocaleTimeString() : at.toLocaleString();
  }

  function minutes(iso) {
    var seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    var m = Math.floor(seconds / 60);
    var s = Math.floor(seconds % 60);
    return m + ":" + (s < 10 ? "0" : "") + s;
  }

  function buyerName(row) {
    var buyer = row.buyer || {};
    return buyer.name || buyer.external_id || "?";
  }

  function preview(message) {
    if (!message) return msg("no-message");
    if (message.recalled) return msg("recalled");
    if (message.kind === "image") return msg("image");
    if (/_card$/.test(message.kind || "")) return msg("card");
    return message.body || "";
  }

  function rowOf(id) {
    for (var i = 0; i < rows.length; i += 1) if (rows[i].id === id) return rows[i];
    return null;
  }

  // --- The list ------------------------------------------------------------------------------

  function render() {
    var focused = document.activeElement;
    var refocus = focused && list.contains(focused) ? focused.dataset.watch : null;
    list.textContent = "";
    rows.forEach(function (row) {
      var watched = watching && watching.id === row.id;
      var item = el("li", "supervise__item" + (watched ? " is-watched" : ""));
      item.dataset.superviseId = row.id;
      var who = el("div", "supervise__who");
      who.appendChild(el("span", "supervise__buyer", buyerName(row)));
      who.appendChild(
        el("span", "supervise__meta", fill(msg("agent"), { name: row.agent_name || "?" }))
      );
      var last = row.last_message;
      var waiting = last && last.sender === "buyer";
      var started = row.assigned_at || row.human_requested_at || row.created_at;
      var since = el(
        "time",
        "supervise__since" + (waiting ? " is-waiting" : ""),
        waiting
          ? fill(msg("buyer-waiting"), { time: minutes(last.created_at) })
          : fill(msg("started"), { time: when(started) })
      );
      since.dateTime = waiting ? last.created_at : started;
      if (waiting) since.dataset.waitingSince = last.created_at;
      who.appendChild(since);
      item.appendChild(who);
      var mine = row.agent === wb.me; // this account's own chat: open it, nothing to watch
      var label = mine ? msg("open") : watched || row.watching ? msg("watch-again") : msg("watch");
      var button = el(
        "button",
        "button button--small" + (watched || mine ? "" : " button--primary"),
        label
      );
      button.type = "button";
      button.dataset.watch = row.id;
      if (watched) button.setAttribute("aria-pressed", "true");
      button.setAttribute("aria-label", label + ": " + buyerName(row));
      button.addEventListener("click", function () {
        if (mine) wb.adopt(row);
        else watch(row.id, button);
      });
      item.appendChild(button);
      item.appendChild(el("p", "supervise__preview", preview(last)));
      list.appendChild(item);
      if (refocus && refocus === String(row.id)) button.focus();
    });
    empty.hidden = rows.length > 0;
    count.hidden = total === 0;
    count.textContent = String(total);
    more.hidden = total <= rows.length;
    more.textContent = fill(msg("more"), { shown: rows.length, count: total });
  }

  // The waiting times move on their own.
  window.setInterval(function () {
    list.querySelectorAll("[data-waiting-since]").forEach(function (node) {
      node.textContent = fill(msg("buyer-waiting"), { time: minutes(node.dataset.waitingSince) });
    });
  }, 1000);

  var reading = false;
  var again = false;

  /** One read at a time; a change meanwhile asks for one more read after it. */
  function refresh() {
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    again = false;
    wb.api("GET", url + "?page_size=" + PAGE)
      .then(
        function (r) {
          if (!r.ok || !r.data) {
            say(feedback, msg("load-failed"));
            return;
          }
          say(feedback, "");
          rows = r.data.results || [];
          total = typeof r.data.count === "number" ? r.data.count : rows.length;
          render();
          if (watching) {
            var row = rowOf(watching.id);
            if (row && row.agent_name) {
              watching.agent = row.agent_name;
              if (watching.live) showBanner();
            }
          }
        },
        function () {
          say(feedback, msg("load-failed"));
        }
      )
      .then(function () {
        reading = false;
        if (again) refresh();
      });
  }

  var soon = null;
  function refreshSoon() {
    window.clearTimeout(soon);
    soon = window.setTimeout(refresh, EVENT_DELAY_MS);
  }

  // --- Watching ------------------------------------------------------------------------------

  function showBanner() {
    banner.hidden = false;
    var agent = watching.agent || msg("unknown-agent");
    bannerTitle.textContent = fill(msg("banner"), { agent: agent });
    bannerHelp.textContent = msg("banner-help");
    if (takeButton) takeButton.hidden = !canTakeOver;
    stopButton.textContent = stopButton.dataset.label || stopButton.textContent;
  }

  /** The conversation left the live state while watched (ended, re-queued): say so; the
   * button now only closes the view. */
  function showGone(text, ended) {
    if (!watching) return;
    watching.live = false;
    watching.ended = Boolean(ended);
    banner.hidden = false;
    bannerTitle.textContent = text;
    bannerHelp.textContent = "";
    if (takeButton) takeButton.hidden = true;
    stopButton.textContent = msg("close") || stopButton.textContent;
  }

  function hideBanner() {
    banner.hidden = true;
    say(bannerFeedback, "");
  }

  /** DELETE the watch; keepalive so that it still leaves while the page unloads. */
  function unwatch(id) {
    try {
      fetch(wb.conversationsUrl + id + "/watch/", {
        method: "DELETE",
        credentials: "same-origin",
        keepalive: true,
        headers: { "X-CSRFToken": csrfInput ? csrfInput.value : "" },
      }).catch(function () {});
    } catch (error) {
      // the page is going away: the server forgets the watcher when the conversation ends
    }
  }

  function watch(id, button) {
    if (watching && watching.id === id && watching.live) {
      // already watched: show it again (another chat may have been opened meanwhile)
      if (wb.openId() !== id) open(id);
      return;
    }
    if (button) button.disabled = true;
    say(feedback, "");
    wb.api("POST", wb.conversationsUrl + id + "/watch/").then(
      function (r) {
        if (button) button.disabled = false;
        if (!r.ok) {
          say(feedback, msg("watch-failed") + " " + (firstError(r.data) || r.status));
          refresh();
          return;
        }
        var previous = watching;
        var row = rowOf(id);
        watching = {
          id: id,
          agent: row ? row.agent_name : "",
          live: true,
          ended: false,
          data: r.data,
        };
        if (previous && previous.id !== id && !previous.ended) unwatch(previous.id);
        open(id);
        refresh();
      },
      function () {
        if (button) button.disabled = false;
        say(feedback, msg("watch-failed") + " " + wb.msg("network"));
      }
    );
  }

  function open(id) {
    if (!watching || watching.id !== id) return;
    say(bannerFeedback, "");
    wb.openReadOnly(watching.data);
    showBanner();
    render();
  }

  /** Stop watching (if still live) and close the read-only view. */
  function stop() {
    if (!watching) return;
    var id = watching.id;
    if (!watching.ended) unwatch(id); // also when it left "active": it may come back to an agent
    watching = null;
    hideBanner();
    if (wb.openId() === id) wb.closeChat();
    render();
    refreshSoon();
  }

  stopButton.dataset.label = stopButton.textContent;
  stopButton.addEventListener("click", stop);

  // --- Taking over ---------------------------------------------------------------------------

  function takeOver() {
    if (!watching || !watching.live) return;
    var id = watching.id;
    takeButton.disabled = true;
    say(bannerFeedback, "");
    wb.api("POST", wb.conversationsUrl + id + "/take-over/").then(
      function (r) {
        takeButton.disabled = false;
        if (!r.ok) {
          say(bannerFeedback, msg("take-over-failed") + " " + (firstError(r.data) || r.status));
          return;
        }
        // The server no longer counts this account as a watcher: it holds the conversation.
        watching = null;
        hideBanner();
        wb.adopt(r.data);
        refresh();
      },
      function () {
        takeButton.disabled = false;
        say(bannerFeedback, msg("take-over-failed") + " " + wb.msg("network"));
      }
    );
  }

  if (takeButton && dialog) {
    var focusBefore = null;
    takeButton.addEventListener("click", function () {
      if (!watching || !watching.live || dialog.open) return;
      dialog.querySelector("[data-take-over-text]").textContent = fill(msg("take-over-text"), {
        agent: watching.agent || msg("unknown-agent"),
      });
      focusBefore = document.activeElement;
      dialog.returnValue = "";
      dialog.showModal();
      dialog.querySelector("[data-take-over-cancel]").focus();
    });
    dialog.addEventListener("close", function () {
      if (dialog.returnValue === "take") {
        takeOver();
      } else if (focusBefore && focusBefore.focus && document.contains(focusBefore)) {
        focusBefore.focus();
      }
      focusBefore = null;
    });
  }

  // --- Hooks ---------------------------------------------------------------------------------

  wb.on("open", function (detail) {
    // Another chat opened in the view: watching ends (one conversation at a time).
    if (watching && (!detail.watching || detail.id !== watching.id)) {
      if (!watching.ended) unwatch(watching.id);
      watching = null;
      hideBanner();
      render();
    }
  });

  wb.on("event", function (detail) {
    var data = detail.data || {};
    var type = detail.type;
    if (watching && data.id === watching.id && type.indexOf("conversation.") === 0) {
      if (type === "conversation.closed" || data.state === "closed") {
        showGone(wb.msg("ended"), true);
      } else if (data.state !== "active") {
        showGone(msg("left-live"), false);
      } else if (data.agent === wb.me) {
        // taken over from another tab of this account: it is this account's own chat now
        var mine = watching.id;
        watching = null;
        hideBanner();
        if (wb.openId() === mine) wb.adopt(data);
      } else {
        watching.data = data; // with an agent (again, or another): still watched
        if (!watching.live) {
          watching.live = true;
          showBanner();
        }
      }
    }
    if (type.indexOf("conversation.") === 0 || type === "queue.changed") refreshSoon();
    // a message in a listed conversation (one watched, or this account's): its preview moves
    else if (/^message\./.test(type) && rowOf(data.conversation)) refreshSoon();
  });

  refreshButton.addEventListener("click", refresh);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) refresh();
  });
  window.setInterval(function () {
    if (!document.hidden) refresh();
  }, LIST_MS);

  // Leaving the page stops watching; coming back to it (the browser's back-forward cache)
  // watches again.
  window.addEventListener("pagehide", function () {
    if (watching && !watching.ended) unwatch(watching.id);
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && watching && watching.live) {
      wb.api("POST", wb.conversationsUrl + watching.id + "/watch/").then(function (r) {
        if (!r.ok && watching) showGone(firstError(r.data) || wb.msg("ended"), true);
      });
    }
  });

  refresh();
})();
