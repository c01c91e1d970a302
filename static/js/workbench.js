/* Agent workbench (SPEC E1, E2): status switch, own max concurrent, the live conversation list and
 * the chat view over /ws/agent/, through the shared client (static/js/socket.js, loaded before
 * this file; docs/realtime.md: resume with ?after, resync, heartbeat, reconnection, client_id
 * acks and the send queue). No dependencies. Strings come translated from the page's data-msg-*
 * attributes. */
(function () {
  "use strict";

  var root = document.querySelector("[data-workbench]");
  if (!root) return;

  var WAIT_YELLOW_S = 60; // E1, the 2-minute rule: grey, then yellow past 1 min, red past 2 min
  var WAIT_RED_S = 120;
  var TAIL = 30; // messages read per conversation to know who spoke last
  var CLOSE_REVOKED = 4403; // account disabled, deleted or password changed

  var csrfInput = root.querySelector("input[name=csrfmiddlewaretoken]");
  var csrfToken = csrfInput ? csrfInput.value : "";

  function msg(name) {
    return root.getAttribute("data-msg-" + name) || "";
  }

  // --- Extensions -------------------------------------------------------------------------
  // Modules loaded after this file (the buyer panel, cards, images) register with
  // window.Workbench.on(name, fn): "open" ({id, data, watching}) when a chat opens (watching:
  // read-only, a supervisor watching it, SPEC I3), "bubble" ({item,
  // message}) for each message drawn (they may fill the item differently, e.g. a card), "event"
  // ({type, data}) for each event of this account's stream.
  var hooks = { open: [], bubble: [], event: [] };

  function emit(name, detail) {
    hooks[name].forEach(function (fn) {
      try {
        fn(detail);
      } catch (error) {
        if (window.console) window.console.error(error);
      }
    });
  }

  function firstError(payload) {
    if (!payload) return "";
    if (payload.detail) return String(payload.detail);
    if (payload.errors) {
      for (var field in payload.errors) {
        var list = payload.errors[field];
        if (list && list.length) return String(list[0]);
      }
    }
    return "";
  }

  /** JSON request with the session cookie and the CSRF token; resolves {ok, status, data}. */
  function api(method, url, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        "Content-Type": "application/json",
        "X-CSRFToken": csrfToken,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (response) {
      return response
        .json()
        .catch(function () {
          return null;
        })
        .then(function (data) {
          return { ok: response.ok, status: response.status, data: data };
        });
    });
  }

  /** Is this browser still signed in? Network trouble counts as yes (we retry later). */
  function sessionAlive() {
    return api("GET", root.dataset.meUrl).then(
      function (result) {
        return result.ok || (result.status !== 401 && result.status !== 403);
      },
      function () {
        return true;
      }
    );
  }

  // --- Connection indicator and leaving ---------------------------------------------------

  var connection = root.querySelector("[data-connection]");
  var connectionText = root.querySelector("[data-connection-text]");
  var leaving = false;

  function showConnection(state, text) {
    connection.className = "connection connection--" + state;
    connectionText.textContent = text;
  }

  function leave(reason) {
    if (leaving) return;
    leaving = true;
    if (socket) socket.stop();
    showConnection("revoked", msg(reason));
    root.querySelectorAll("input, button").forEach(function (control) {
      control.disabled = true;
    });
    var next = root.dataset.loginUrl + (reason === "revoked" ? "?revoked=1" : "");
    window.setTimeout(function () {
      window.location.assign(next);
    }, 2500);
  }

  /** The server said we are out; leave only if the session really ended. */
  function checkSignedOut(reason) {
    return sessionAlive().then(function (alive) {
      if (!alive) leave(reason);
      return alive;
    });
  }

  // --- Status switch (POST /api/v1/me/status/) --------------------------------------------

  var radios = Array.prototype.slice.call(root.querySelectorAll("input[name=status]"));
  var statusHint = root.querySelector("[data-status-hint]");
  var statusFeedback = root.querySelector("[data-status-feedback]");
  var currentStatus = (radios.filter(function (r) { return r.checked; })[0] || {}).value;

  function showStatus(status) {
    currentStatus = status;
    radios.forEach(function (radio) {
      radio.checked = radio.value === status;
      if (radio.checked) statusHint.textContent = radio.dataset.hint || "";
    });
  }

  function statusError(text) {
    statusFeedback.textContent = text;
    statusFeedback.hidden = !text;
  }

  radios.forEach(function (radio) {
    radio.addEventListener("change", function () {
      var wanted = radio.value;
      var previous = currentStatus;
      radios.forEach(function (r) { r.disabled = true; });
      statusError("");
      api("POST", root.dataset.statusUrl, { status: wanted })
        .then(
          function (result) {
            if (result.ok) {
              showStatus(result.data.status);
              return;
            }
            showStatus(previous);
            if (result.status === 401 || result.status === 403) {
              checkSignedOut("signed-out");
            }
            statusError(msg("status-failed") + " " + (firstError(result.data) || result.status));
          },
          function () {
            showStatus(previous);
            statusError(msg("network"));
          }
        )
        .then(function () {
          radios.forEach(function (r) { r.disabled = false; });
        });
    });
  });
  showStatus(currentStatus);

  // --- Own max concurrent (PATCH /api/v1/me/) ---------------------------------------------

  var maxForm = root.querySelector("[data-max-form]");
  if (maxForm) {
    var maxInput = maxForm.querySelector("input[name=max_concurrent]");
    var maxFeedback = maxForm.querySelector("[data-max-feedback]");
    var maxButton = maxForm.querySelector("button");
    var showMaxFeedback = function (text, ok) {
      maxFeedback.textContent = text;
      maxFeedback.className = "form-feedback " + (ok ? "is-ok" : "is-error");
      maxInput.setAttribute("aria-invalid", ok ? "false" : "true");
    };
    maxForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var value = parseInt(maxInput.value, 10);
      if (!maxInput.checkValidity() || isNaN(value)) {
        showMaxFeedback(msg("save-failed") + " " + maxInput.validationMessage, false);
        return;
      }
      maxButton.disabled = true;
      api("PATCH", root.dataset.meUrl, { max_concurrent: value })
        .then(
          function (result) {
            if (result.ok) {
              maxInput.value = result.data.max_concurrent;
              showMaxFeedback(msg("saved"), true);
            } else {
              showMaxFeedback(msg("save-failed") + " " + (firstError(result.data) || result.status), false);
            }
          },
          function () {
            showMaxFeedback(msg("network"), false);
          }
        )
        .then(function () {
          maxButton.disabled = false;
        });
    });
  }

  // --- Conversations (E1) and the chat view (E2) ------------------------------------------

  var me = parseInt(root.dataset.accountId, 10);
  var convUrl = root.dataset.conversationsUrl;
  var list = root.querySelector("[data-conversation-list]");
  var emptyState = root.querySelector("[data-empty-state]");
  var queueLength = root.querySelector("[data-queue-length]");
  var chat = root.querySelector("[data-chat]");
  var placeholder = root.querySelector("[data-chat-placeholder]");
  var chatTitle = root.querySelector("[data-chat-title]");
  var chatMeta = root.querySelector("[data-chat-meta]");
  var chatMessages = root.querySelector("[data-chat-messages]");
  var chatTyping = root.querySelector("[data-chat-typing]");
  var chatClosed = root.querySelector("[data-chat-closed]");
  var chatFeedback = root.querySelector("[data-chat-feedback]");
  var composer = root.querySelector("[data-composer]");
  var input = composer.querySelector("textarea");
  var transferToggle = root.querySelector("[data-transfer-toggle]");
  var transferForm = root.querySelector("[data-transfer-form]");
  var endButton = root.querySelector("[data-chat-end]");
  var quickUrl = root.dataset.quickRepliesUrl;
  var quickPanel = root.querySelector("[data-quick-panel]");
  var quickSearch = root.querySelector("[data-quick-search]");
  var quickList = root.querySelector("[data-quick-list]");
  var quickEmpty = root.querySelector("[data-quick-empty]");
  var quickToggle = root.querySelector("[data-quick-toggle]");
  var quickSuggested = root.querySelector("[data-quick-suggested]");
  var quickSuggestedList = root.querySelector("[data-quick-suggested-list]");
  var transferSelect = transferForm.querySelector("[data-transfer-select]");
  var chatNotes = root.querySelector("[data-chat-notes]");
  var chatNotesList = root.querySelector("[data-chat-notes-list]");
  var endDialog = root.querySelector("[data-end-dialog]");
  var entranceLabels = {};
  try {
    entranceLabels = JSON.parse(document.getElementById("entrance-labels").textContent) || {};
  } catch (error) {
    entranceLabels = {};
  }

  var convs = {}; // id -> {id, name, waitingSince, unread, preview, activity, lastBuyerSeq}
  var openId = null;
  var typingTimer = null;

  function readKey(id) {
    return "helpdesk-read-" + me + "-" + id;
  }
  function lastRead(id) {
    return parseInt(window.localStorage.getItem(readKey(id)) || "0", 10);
  }
  function markRead(conv) {
    if (conv.lastBuyerSeq > lastRead(conv.id)) {
      try {
        window.localStorage.setItem(readKey(conv.id), String(conv.lastBuyerSeq));
      } catch (error) {
        // storage full or denied: unread counts then last for this page only
      }
    }
    conv.unread = 0;
  }

  function duration(seconds) {
    var m = Math.floor(seconds / 60);
    var s = Math.floor(seconds % 60);
    return m + ":" + (s < 10 ? "0" : "") + s;
  }

  function waitedSeconds(conv) {
    return conv.waitingSince ? Math.max(0, (Date.now() - conv.waitingSince) / 1000) : 0;
  }

  /** Who waits since when, unread and the preview, from the messages known so far. */
  function recompute(conv) {
    var seqs = Object.keys(conv.msgs).map(Number).sort(function (a, b) { return a - b; });
    var read = lastRead(conv.id);
    var visible = conv.id === openId && !document.hidden;
    conv.waitingSince = null;
    conv.unread = 0;
    seqs.forEach(function (seq) {
      var m = conv.msgs[seq];
      var at = Date.parse(m.created_at) || Date.now();
      if (m.sender === "buyer") {
        if (!conv.waitingSince) conv.waitingSince = at;
        conv.lastBuyerSeq = Math.max(conv.lastBuyerSeq, seq);
        if (seq > read && !visible) conv.unread += 1;
      } else if (m.sender === "agent") {
        conv.waitingSince = null; // answered
      }
      conv.preview = m.body;
      conv.activity = Math.max(conv.activity, at);
    });
    if (visible) markRead(conv);
  }

  function noteMessage(conv, m) {
    conv.msgs[m.seq] = { sender: m.sender, created_at: m.created_at, body: m.body };
    recompute(conv);
  }

  function upsert(data) {
    var conv = convs[data.id];
    if (!conv) {
      conv = convs[data.id] = {
        id: data.id,
        waitingSince: null,
        unread: 0,
        preview: "",
        activity: Date.parse(data.assigned_at || data.created_at) || Date.now(),
        lastBuyerSeq: 0,
        msgs: {},
      };
    }
    conv.name = (data.buyer && (data.buyer.name || data.buyer.external_id)) || conv.name || "?";
    conv.data = data;
    return conv;
  }

  function remove(id, why) {
    delete convs[id];
    renderList();
    if (id === openId) {
      showClosed(why);
    }
  }

  /** The latest messages of a conversation: who spoke last, unread, the preview. */
  function loadTail(conv) {
    var after = Math.max(0, (conv.data.last_seq || 0) - TAIL);
    return api("GET", convUrl + conv.id + "/messages/?after_seq=" + after).then(function (r) {
      if (!r.ok || !convs[conv.id]) return;
      (r.data.results || []).forEach(function (m) {
        conv.msgs[m.seq] = { sender: m.sender, created_at: m.created_at, body: m.body };
      });
      recompute(conv);
      renderList();
    });
  }

  function loadConversations() {
    var url = convUrl + "?state=active&agent=" + me;
    return api("GET", url).then(function (r) {
      if (!r.ok) return;
      var seen = {};
      (r.data.results || []).forEach(function (data) {
        seen[data.id] = true;
        loadTail(upsert(data));
      });
      Object.keys(convs).forEach(function (id) {
        if (!seen[id]) delete convs[id];
      });
      renderList();
      if (openId && convs[openId]) openChat(openId);
    });
  }

  function sorted() {
    // Waiting conversations first, longest waiting first; then the most recent activity (E1).
    return Object.keys(convs)
      .map(function (id) { return convs[id]; })
      .sort(function (a, b) {
        if (!!a.waitingSince !== !!b.waitingSince) return a.waitingSince ? -1 : 1;
        if (a.waitingSince) return a.waitingSince - b.waitingSince;
        return b.activity - a.activity;
      });
  }

  function waitClass(conv) {
    var s = waitedSeconds(conv);
    if (!conv.waitingSince) return "";
    return s > WAIT_RED_S ? "wait--red" : s > WAIT_YELLOW_S ? "wait--yellow" : "wait--grey";
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // The agent's open conversations (its load), re-read after the list changes (E1).
  var openCount = root.querySelector("[data-open-count]");
  var openCountTimer = null;
  function refreshOpenCount() {
    if (!openCount) return;
    window.clearTimeout(openCountTimer);
    openCountTimer = window.setTimeout(function () {
      api("GET", root.dataset.meUrl).then(function (r) {
        if (r.ok && r.data) openCount.textContent = String(r.data.open_conversations);
      });
    }, 300);
  }

  function renderList() {
    refreshOpenCount();
    var focused = document.activeElement && document.activeElement.dataset.id;
    list.textContent = "";
    sorted().forEach(function (conv) {
      var item = el("li", "conversation-list__item");
      var button = el("button", "conv" + (conv.id === openId ? " is-open" : ""));
      button.type = "button";
      button.dataset.id = conv.id;
      button.setAttribute("aria-current", conv.id === openId ? "true" : "false");
      var top = el("span", "conv__top");
      top.appendChild(el("span", "conv__name", conv.name));
      if (conv.unread) {
        top.appendChild(el("span", "badge conv__unread", msg("unread").replace("{count}", conv.unread)));
      }
      button.appendChild(top);
      button.appendChild(el("span", "conv__preview", conv.preview || msg("no-messages")));
      var wait = el("span", "conv__wait " + waitClass(conv));
      wait.dataset.wait = conv.id;
      wait.hidden = !conv.waitingSince;
      wait.textContent = msg("waiting").replace("{time}", duration(waitedSeconds(conv)));
      button.appendChild(wait);
      button.addEventListener("click", function () {
        openChat(conv.id);
      });
      item.appendChild(button);
      list.appendChild(item);
      if (String(conv.id) === focused) button.focus();
    });
    emptyState.hidden = list.children.length > 0;
  }

  function tick() {
    list.querySelectorAll("[data-wait]").forEach(function (badge) {
      var conv = convs[badge.dataset.wait];
      if (!conv || !conv.waitingSince) return;
      badge.textContent = msg("waiting").replace("{time}", duration(waitedSeconds(conv)));
      badge.className = "conv__wait " + waitClass(conv);
    });
  }
  window.setInterval(tick, 1000);

  // --- Chat view --------------------------------------------------------------------------

  var senderLabel = {
    buyer: msg("buyer"),
    system: msg("system"),
    assistant: msg("assistant"),
  };

  function bubble(m) {
    var mine = m.sender === "agent" && m.agent === me;
    var kind = m.sender === "agent" ? (mine ? "mine" : "agent") : m.sender;
    var item = el("li", "bubble bubble--" + kind);
    if (m.id) item.dataset.messageId = m.id;
    if (m.seq) item.dataset.seq = m.seq;
    if (m.client_id) item.dataset.clientId = m.client_id;
    var who = mine ? msg("you") : m.sender === "agent" ? msg("colleague") : senderLabel[m.sender];
    item.appendChild(el("span", "bubble__sender", who || m.sender));
    item.appendChild(el("p", "", m.body));
    if (m.created_at) {
      var time = el("time", "bubble__time", new Date(m.created_at).toLocaleTimeString());
      time.dateTime = m.created_at;
      item.appendChild(time);
    }
    emit("bubble", { item: item, message: m });
    return item;
  }

  function showMessage(m) {
    if (m.conversation !== openId) return;
    var existing = m.id && chatMessages.querySelector('[data-message-id="' + m.id + '"]');
    var pending =
      m.client_id && chatMessages.querySelector('[data-client-id="' + m.client_id + '"]');
    var node = bubble(m);
    if (existing) return;
    if (pending) {
      chatMessages.replaceChild(node, pending);
    } else {
      chatMessages.insertBefore(node, followerOf(m.seq));
    }
    chatMessages.scrollTop = chatMessages.scrollHeight;
  }

  /** Where a stored message goes: before the first later one or the first still pending (the
   * history may arrive after a reply was sent), so the chat stays in seq order. */
  function followerOf(seq) {
    if (!seq) return null;
    var nodes = chatMessages.children;
    for (var i = 0; i < nodes.length; i += 1) {
      var other = parseInt(nodes[i].dataset.seq || "0", 10);
      if ((other && other > seq) || (!other && nodes[i].classList.contains("is-pending"))) {
        return nodes[i];
      }
    }
    return null;
  }

  function feedback(text) {
    chatFeedback.textContent = text;
    chatFeedback.hidden = !text;
  }

  function setComposer(enabled) {
    input.disabled = !enabled;
    composer.querySelector("button").disabled = !enabled;
    transferToggle.disabled = !enabled;
    endButton.disabled = !enabled;
    quickToggle.disabled = !enabled;
    if (!enabled) {
      closeQuick();
      quickSuggested.hidden = true;
    }
  }

  function showClosed(text) {
    chatClosed.textContent = text;
    chatClosed.hidden = false;
    chatTyping.hidden = true;
    transferForm.hidden = true;
    setComposer(false);
  }

  function showHeader(name, d) {
    chatTitle.textContent = name;
    var entrance = d.entrance ? entranceLabels[d.entrance] || d.entrance : "";
    chatMeta.textContent = [entrance, d.product, d.order, d.intent].filter(Boolean).join(" · ");
  }

  function openChat(id) {
    var conv = convs[id];
    if (!conv) return;
    openId = conv.id;
    chat.hidden = false;
    chat.classList.remove("chat--watching");
    placeholder.hidden = true;
    showHeader(conv.name, conv.data || {});
    chatClosed.hidden = true;
    chatTyping.hidden = true;
    transferForm.hidden = true;
    transferToggle.setAttribute("aria-expanded", "false");
    feedback("");
    setComposer(true);
    chatMessages.textContent = "";
    renderNotes(conv.id);
    loadNotes(conv.id);
    recompute(conv);
    renderList();
    loadHistory(conv.id, convUrl + conv.id + "/messages/?after_seq=0");
    closeQuick();
    loadQuick(conv.id);
    emit("open", { id: conv.id, data: conv.data || {}, watching: false });
    input.focus();
  }

  /** SPEC I3: a conversation this account watches (supervise.js), read-only in the chat view:
   * its history, its notes (which may be added), and its events as they come; no reply box. */
  function openReadOnly(data) {
    openId = data.id;
    chat.hidden = false;
    chat.classList.add("chat--watching");
    placeholder.hidden = true;
    showHeader((data.buyer && (data.buyer.name || data.buyer.external_id)) || "?", data);
    chatClosed.hidden = true;
    chatTyping.hidden = true;
    transferForm.hidden = true;
    feedback("");
    setComposer(false);
    chatMessages.textContent = "";
    renderNotes(data.id);
    loadNotes(data.id);
    renderList();
    loadHistory(data.id, convUrl + data.id + "/messages/?after_seq=0");
    emit("open", { id: data.id, data: data, watching: true });
  }

  /** No conversation in the chat view (a watched one left). */
  function closeChat() {
    openId = null;
    chat.hidden = true;
    chat.classList.remove("chat--watching");
    placeholder.hidden = false;
    renderList();
  }

  /** A conversation that became this account's (SPEC I3, taken over): listed and opened. */
  function adopt(data) {
    var conv = upsert(data);
    loadTail(conv);
    renderList();
    openChat(conv.id);
  }

  /** History from REST (E2), page by page, oldest first. */
  function loadHistory(id, url) {
    api("GET", url).then(function (r) {
      if (!r.ok || openId !== id) return;
      (r.data.results || []).forEach(showMessage);
      if (r.data.next) loadHistory(id, r.data.next);
    });
  }

  // --- Internal notes (SPEC I3; amended B12: the transfer note reaches the receiving agent) ---
  // Staff only: from the conversation.transferred event on this account's socket, and from
  // GET conversations/{id}/notes/ where the server has it. Never sent to the buyer.

  var notes = {}; // conversation id -> [{kind, body, author, created_at}]

  function notesKey(id) {
    return "helpdesk-notes-" + me + "-" + id;
  }

  function notesOf(id) {
    if (!notes[id]) {
      try {
        notes[id] = JSON.parse(window.sessionStorage.getItem(notesKey(id)) || "[]");
      } catch (error) {
        notes[id] = [];
      }
    }
    return notes[id];
  }

  function keepNotes(id, list) {
    notes[id] = list;
    try {
      window.sessionStorage.setItem(notesKey(id), JSON.stringify(list));
    } catch (error) {
      // storage denied or full: the notes last for this page only
    }
  }

  /** A note, unless the same one (kind and body) is known already. */
  function addNote(id, note) {
    var list = notesOf(id).slice();
    var known = list.some(function (n) {
      return n.body === note.body && (n.kind || "note") === (note.kind || "note");
    });
    if (!known) list.push(note);
    keepNotes(id, list);
    if (id === openId) renderNotes(id);
  }

  function colleagueName(accountId) {
    if (!accountId) return msg("someone");
    var option = transferSelect.querySelector('option[value="account:' + accountId + '"]');
    return (option && option.dataset.name) || msg("someone");
  }

  function renderNotes(id) {
    var list = notesOf(id);
    chatNotesList.textContent = "";
    list.forEach(function (note) {
      var item = el("li", "internal-note internal-note--" + (note.kind || "note"));
      var label =
        note.kind === "transfer"
          ? msg("transfer-note").replace("{name}", note.author_name || colleagueName(note.author))
          : msg("internal-note");
      item.appendChild(el("span", "internal-note__label", label));
      item.appendChild(el("p", "internal-note__body", note.body));
      chatNotesList.appendChild(item);
    });
    chatNotes.hidden = list.length === 0;
  }

  /** The notes the server keeps, where it has the endpoint (API.md, internal notes). */
  function loadNotes(id, url) {
    api("GET", url || convUrl + id + "/notes/").then(
      function (r) {
        if (!r.ok || !r.data) return;
        if (r.data.next && openId === id) loadNotes(id, r.data.next);
        var rows = Array.isArray(r.data) ? r.data : r.data.results || [];
        rows.forEach(function (row) {
          var author = row.author && typeof row.author === "object" ? row.author.id : row.author;
          addNote(id, {
            kind: row.kind || "note",
            body: row.body,
            author: author,
            author_name: row.author_name || (row.author && row.author.display_name) || "",
            created_at: row.created_at,
          });
        });
      },
      function () {}
    );
  }

  function clientId() {
    return "w" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
  }

  function send(body) {
    var id = openId;
    var cid = clientId();
    var pending = bubble({ sender: "agent", agent: me, body: body, client_id: cid });
    pending.classList.add("is-pending");
    pending.querySelector(".bubble__sender").textContent = msg("sending");
    chatMessages.appendChild(pending);
    chatMessages.scrollTop = chatMessages.scrollHeight;
    // Over the socket now, or queued there and tried through REST (sendByRest).
    socket.send({ type: "message.send", conversation: id, body: body, client_id: cid });
  }

  /** No socket right now: the same service through REST, with the same client_id. Unreachable
   * (or a server error): it rejects, and the socket sends the frame once it is back (stored
   * once, whichever way arrives first). */
  function sendByRest(frame) {
    var cid = frame.client_id;
    var body = { body: frame.body, client_id: cid };
    return api("POST", convUrl + frame.conversation + "/messages/", body).then(function (r) {
      if (r.status >= 500) throw new Error(String(r.status));
      if (r.ok) showMessage(r.data);
      else failed(cid, firstError(r.data) || r.status);
    });
  }

  function failed(cid, why) {
    var node = chatMessages.querySelector('[data-client-id="' + cid + '"]');
    if (node) {
      node.classList.add("is-failed");
      node.querySelector(".bubble__sender").textContent = msg("send-failed") + " " + why;
    }
  }

  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = input.value.trim();
    if (!body || !openId) return;
    input.value = "";
    send(body);
  });
  var lastTyping = 0;
  input.addEventListener("keydown", function (event) {
    if (event.key === "/" && input.value === "" && !event.isComposing) {
      event.preventDefault(); // "/" in an empty reply opens the quick replies (SPEC D7)
      openQuick();
      return;
    }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
  input.addEventListener("input", function () {
    if (openId && Date.now() - lastTyping > 2000 && socket.isOpen()) {
      lastTyping = Date.now();
      socket.send({ type: "typing", conversation: openId });
    }
  });

  // --- Quick replies (SPEC D7): suggestions from the buyer's latest message, the panel ------

  var quickItems = []; // the replies, as GET quick-replies/suggest/ answers: matched ones first
  var quickFor = null; // the conversation they were read for

  /** The replies for a conversation, those matching the buyer's latest message first. */
  function loadQuick(id) {
    api("GET", quickUrl + "suggest/?conversation=" + id).then(
      function (r) {
        if (openId !== id) return;
        if (!r.ok) {
          quickItems = [];
          quickEmpty.textContent = msg("quick-failed");
          return;
        }
        quickFor = id;
        quickItems = r.data.results || [];
        renderSuggested();
        if (!quickPanel.hidden) renderQuick();
      },
      function () {}
    );
  }

  function suggested(item) {
    return item.matched_keywords && item.matched_keywords.length > 0;
  }

  function renderSuggested() {
    quickSuggestedList.textContent = "";
    var top = quickItems.filter(suggested).slice(0, 3);
    top.forEach(function (item) {
      var li = el("li", "");
      var button = el("button", "", item.text);
      button.type = "button";
      button.title = item.text;
      button.addEventListener("click", function () {
        insertQuick(item.text);
      });
      li.appendChild(button);
      quickSuggestedList.appendChild(li);
    });
    quickSuggested.hidden = top.length === 0;
  }

  function clearSuggested() {
    quickItems.forEach(function (item) {
      item.matched_keywords = [];
    });
    renderSuggested();
  }

  function matchesSearch(item, needle) {
    if (!needle) return true;
    var hay = [item.text, item.category].concat(item.keywords || []).join("\n").toLowerCase();
    return hay.indexOf(needle) !== -1;
  }

  function renderQuick() {
    var needle = quickSearch.value.trim().toLowerCase();
    var shown = quickItems.filter(function (item) {
      return matchesSearch(item, needle);
    });
    quickList.textContent = "";
    shown.forEach(function (item) {
      var li = el("li", "");
      var button = el("button", "");
      button.type = "button";
      button.dataset.quickReply = item.id;
      var meta = el("span", "quick-replies__meta");
      if (suggested(item)) {
        var tag = el("span", "quick-replies__tag quick-replies__tag--suggested");
        tag.textContent = msg("quick-suggested");
        meta.appendChild(tag);
      }
      if (item.personal) meta.appendChild(el("span", "quick-replies__tag", msg("quick-personal")));
      if (item.category) meta.appendChild(el("span", "quick-replies__tag", item.category));
      if (meta.childNodes.length) button.appendChild(meta);
      button.appendChild(el("span", "quick-replies__text", item.text));
      button.addEventListener("click", function () {
        insertQuick(item.text);
      });
      li.appendChild(button);
      quickList.appendChild(li);
    });
    quickEmpty.textContent = msg("quick-none");
    quickEmpty.hidden = shown.length > 0;
  }

  function openQuick() {
    if (!openId || input.disabled) return;
    quickPanel.hidden = false;
    quickToggle.setAttribute("aria-expanded", "true");
    quickSearch.value = "";
    renderQuick();
    if (quickFor !== openId) loadQuick(openId);
    quickSearch.focus();
  }

  function closeQuick() {
    quickPanel.hidden = true;
    quickToggle.setAttribute("aria-expanded", "false");
  }

  /** Puts the reply's text in the reply box, at the caret; the agent still sends it. */
  function insertQuick(text) {
    var start = input.selectionStart || 0;
    var end = input.selectionEnd || 0;
    input.value = input.value.slice(0, start) + text + input.value.slice(end);
    var caret = start + text.length;
    closeQuick();
    input.focus();
    input.setSelectionRange(caret, caret);
  }

  quickToggle.addEventListener("click", function () {
    if (quickPanel.hidden) openQuick();
    else closeQuick();
  });
  root.querySelector("[data-quick-close]").addEventListener("click", function () {
    closeQuick();
    input.focus();
  });
  quickSearch.addEventListener("input", renderQuick);
  quickSearch.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {
      event.preventDefault();
      var first = quickList.querySelector("button");
      if (first) first.click();
    } else if (event.key === "ArrowDown") {
      event.preventDefault();
      var next = quickList.querySelector("button");
      if (next) next.focus();
    }
  });
  quickList.addEventListener("keydown", function (event) {
    var items = Array.prototype.slice.call(quickList.querySelectorAll("button"));
    var at = items.indexOf(document.activeElement);
    if (event.key === "ArrowDown" && at >= 0 && at < items.length - 1) {
      event.preventDefault();
      items[at + 1].focus();
    } else if (event.key === "ArrowUp" && at >= 0) {
      event.preventDefault();
      (at === 0 ? quickSearch : items[at - 1]).focus();
    }
  });

  // --- Ending (E2, amended): Esc or the button asks first; Esc never ends while writing ---

  var composing = false; // an input method's composition is open (Chinese pinyin, etc.)
  var compositionEndedAt = 0;
  var COMPOSITION_GRACE_MS = 300; // the Esc that cancels a composition may follow its end
  var endFor = null; // the conversation the open confirmation is about
  var focusBeforeDialog = null;

  document.addEventListener("compositionstart", function () {
    composing = true;
  }, true);
  document.addEventListener("compositionend", function () {
    composing = false;
    compositionEndedAt = Date.now();
  }, true);

  function imeActive(event) {
    return (
      composing ||
      event.isComposing ||
      event.keyCode === 229 ||
      Date.now() - compositionEndedAt < COMPOSITION_GRACE_MS
    );
  }

  function editing(target) {
    if (!target || target === document.body) return false;
    if (target.isContentEditable) return true;
    var tag = target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }

  function endChat(id) {
    if (!id || !convs[id]) return;
    endButton.disabled = true;
    api("POST", convUrl + id + "/close/").then(
      function (r) {
        if (r.ok || r.status === 409) {
          remove(id, msg("ended"));
        } else {
          if (id === openId) endButton.disabled = false;
          feedback(msg("action-failed") + " " + (firstError(r.data) || r.status));
        }
      },
      function () {
        if (id === openId) endButton.disabled = false;
        feedback(msg("network"));
      }
    );
  }

  /** Asks before ending the open conversation; the least destructive answer has the focus. */
  function askToEnd() {
    if (!openId || chat.hidden || endButton.disabled || endDialog.open) return;
    // Amended decision: the shop may turn the confirmation off (ShopSettings.confirm_end).
    if (root.dataset.confirmEnd === "0") {
      endChat(openId);
      return;
    }
    endFor = openId;
    focusBeforeDialog = document.activeElement;
    endDialog.returnValue = "";
    endDialog.showModal();
    endDialog.querySelector("[data-end-cancel]").focus();
  }

  endDialog.addEventListener("close", function () {
    var id = endFor;
    endFor = null;
    if (endDialog.returnValue === "end" && id === openId) {
      endChat(id);
    } else if (focusBeforeDialog && focusBeforeDialog.focus && document.contains(focusBeforeDialog)) {
      focusBeforeDialog.focus();
    }
    focusBeforeDialog = null;
  });

  endButton.addEventListener("click", askToEnd);

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" && event.key !== "Esc") return;
    // An input method uses Esc to cancel its composition: that Esc is never ours.
    if (imeActive(event) || event.defaultPrevented) return;
    if (endDialog.open) return; // the dialog cancels itself
    if (!quickPanel.hidden) {
      closeQuick();
      input.focus();
      return;
    }
    if (!transferForm.hidden) {
      closeTransfer();
      return;
    }
    // Never while a reply is being written: text in the box, or the box (or any field) focused.
    if (input.value.trim() !== "" || document.activeElement === input) return;
    if (editing(document.activeElement)) return;
    if (openId && !chat.hidden) {
      event.preventDefault();
      askToEnd();
    }
  });

  // --- Transfer (B12): the targets with their status, read again when the form opens --------

  var transferLoad = null;

  /** The page's list of colleagues as it is now (status, who may chat), into the select. */
  function refreshTransferTargets() {
    if (transferLoad) return transferLoad;
    var chosen = transferSelect.value;
    transferSelect.disabled = true;
    transferLoad = fetch(window.location.pathname, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(
        function (html) {
          if (!html) return;
          var page = new DOMParser().parseFromString(html, "text/html");
          var fresh = page.querySelector("[data-transfer-select]");
          if (!fresh) return;
          transferSelect.textContent = "";
          Array.prototype.slice.call(fresh.children).forEach(function (child) {
            transferSelect.appendChild(document.importNode(child, true));
          });
          var still = transferSelect.querySelector('option[value="' + chosen + '"]');
          transferSelect.value = still && !still.disabled ? chosen : "";
        },
        function () {}
      )
      .then(function () {
        transferSelect.disabled = false;
        transferLoad = null;
      });
    return transferLoad;
  }

  function closeTransfer() {
    transferForm.hidden = true;
    transferToggle.setAttribute("aria-expanded", "false");
    transferToggle.focus();
  }

  transferToggle.addEventListener("click", function () {
    if (!transferForm.hidden) {
      closeTransfer();
      return;
    }
    transferForm.hidden = false;
    transferToggle.setAttribute("aria-expanded", "true");
    refreshTransferTargets().then(function () {
      if (!transferForm.hidden) transferSelect.focus();
    });
  });
  transferForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var id = openId;
    var target = transferForm.elements.to.value.split(":");
    if (!id || target.length !== 2) return;
    var body = { note: transferForm.elements.note.value };
    body[target[0] === "group" ? "to_group" : "to_account"] = parseInt(target[1], 10);
    api("POST", convUrl + id + "/transfer/", body).then(function (r) {
      if (r.ok && r.data.agent !== me) {
        transferForm.reset();
        remove(id, msg("transferred"));
      } else if (!r.ok) {
        feedback(msg("action-failed") + " " + (firstError(r.data) || r.status));
        if (r.status === 409 || r.status === 404) refreshTransferTargets(); // statuses moved
      }
    });
  });

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) refreshQueue();
    if (!document.hidden && openId && convs[openId]) {
      recompute(convs[openId]);
      renderList();
    }
  });

  // The queue's length (E1) follows the queue: queue.changed on this account's stream carries
  // it whenever a buyer enters or leaves the queue (no polling); it is read through REST on
  // (re)connection and when the page comes back to the front. One read at a time; a change
  // meanwhile asks for one more read after it.
  var queueReading = false;
  var queueAgain = false;

  function refreshQueue() {
    if (!queueLength) return;
    if (queueReading) {
      queueAgain = true;
      return;
    }
    queueReading = true;
    queueAgain = false;
    api("GET", root.dataset.queueUrl)
      .then(
        function (r) {
          if (r.ok) queueLength.textContent = msg("queue").replace("{count}", r.data.count);
        },
        function () {}
      )
      .then(function () {
        queueReading = false;
        if (queueAgain) refreshQueue();
      });
  }
  refreshQueue();

  /** queue.changed (issue 10): the shop's waiting buyers, pushed whenever the queue moves. */
  function showQueue(waiting) {
    if (queueLength && typeof waiting === "number") {
      queueLength.textContent = msg("queue").replace("{count}", waiting);
    }
  }

  // --- Events of the account's stream ------------------------------------------------------

  function onEvent(type, data) {
    var conv;
    emit("event", { type: type, data: data });
    if (type === "queue.changed") showQueue(data.waiting);
    if (type === "conversation.transferred" && data.agent === me && data.transfer) {
      if (data.transfer.note) {
        addNote(data.id, {
          kind: "transfer",
          body: data.transfer.note,
          author: data.transfer.from_account,
          created_at: new Date().toISOString(),
        });
      }
    }
    switch (type) {
      case "conversation.assigned":
      case "conversation.transferred":
      case "conversation.updated":
        if (data.agent === me && data.state === "active") {
          conv = upsert(data);
          loadTail(conv);
          renderList();
        } else if (convs[data.id]) {
          remove(data.id, msg("taken-away"));
        }
        break;
      case "conversation.closed":
        if (convs[data.id]) remove(data.id, msg("ended"));
        break;
      case "message.created":
        conv = convs[data.conversation];
        if (conv) {
          noteMessage(conv, data);
          renderList();
        }
        showMessage(data);
        if (data.sender === "buyer" && data.conversation === openId) {
          chatTyping.hidden = true;
          clearSuggested(); // a new buyer message: its own suggestions follow, if any
        }
        break;
      case "message.updated": // a recall (I1): the message as it now shows
        if (data.conversation === openId && data.id) {
          var shown = chatMessages.querySelector('[data-message-id="' + data.id + '"]');
          if (shown) chatMessages.replaceChild(bubble(data), shown);
        }
        break;
      case "note.created": // SPEC I3: a note by a colleague or a supervisor, live
        if (data.conversation && data.body) addNote(data.conversation, data);
        break;
      case "quick_reply.suggested":
        if (data.conversation === openId) loadQuick(openId);
        break;
      case "agent.status":
        if (data.status) showStatus(data.status);
        break;
      default:
        break;
    }
  }

  // --- WebSocket /ws/agent/ (static/js/socket.js) ------------------------------------------

  /** Frames outside the stream (hello, pong and resync are the client's). */
  function onFrame(frame) {
    var data = frame.data || {};
    switch (frame.type) {
      case "ack":
        showMessage(data.message);
        break;
      case "error":
        if (data.request && data.request.client_id) {
          failed(data.request.client_id, data.detail || firstError(data));
        } else if (openId) {
          feedback(msg("action-failed") + " " + (data.detail || firstError(data)));
        }
        break;
      case "typing":
        if (data.conversation === openId && data.sender === "buyer") {
          chatTyping.hidden = false;
          window.clearTimeout(typingTimer);
          typingTimer = window.setTimeout(function () {
            chatTyping.hidden = true;
          }, 4000);
        }
        break;
      default:
        break;
    }
  }

  function onState(state, info) {
    if (leaving) return;
    if (state === "connected") {
      showConnection("connected", msg("connected"));
    } else if (state === "connecting") {
      showConnection("connecting", msg("connecting"));
    } else if (state === "reconnecting" || state === "offline") {
      var seconds = Math.ceil((info.delay || 0) / 1000);
      showConnection("lost", msg("reconnecting").replace("{seconds}", seconds));
    } else if (state === "unauthorized") {
      leave(info.code === CLOSE_REVOKED ? "revoked" : "signed-out");
    }
  }

  // The session cookie signs the socket in: no token in its URL (the default authQuery is
  // empty without a token).
  var socket = window.HelpdeskSocket.create({
    path: root.dataset.wsPath,
    // A single-use ticket per connection (issue 12, I7): no token in the socket's URL.
    authQuery: window.HelpdeskSocket.ticketQuery(function () {
      return api("POST", root.dataset.wsTicketUrl);
    }),
    // A refused handshake or a revoked socket (4403): still signed in? This very session may
    // have survived a 4403 (the account reset its own password in another tab).
    checkAuth: sessionAlive,
    fallback: sendByRest,
    onState: onState,
    onHello: function (data, info) {
      // First connection of this page: live events from here, state from the REST API.
      if (info.first) loadConversations();
      refreshQueue();
    },
    onResync: function () {
      // Missed events are no longer kept: fetch the state again, continue from last_seq.
      loadConversations();
      refreshQueue();
    },
    onEvent: onEvent,
    onFrame: onFrame,
  });

  socket.start();
  window.Workbench = {
    el: el,
    firstError: firstError,
    on: function (name, fn) {
      hooks[name].push(fn);
    },
    api: api,
    msg: msg,
    me: me,
    conversationsUrl: convUrl,
    addNote: addNote, // I3: a note written on this page (buyer_panel.js) joins the list
    openReadOnly: openReadOnly, // I3: watching (supervise.js)
    closeChat: closeChat,
    adopt: adopt,
    openId: function () {
      return openId;
    },
    conversation: function (id) {
      return convs[id] ? convs[id].data : null;
    },
  };
})();
