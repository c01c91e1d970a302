/* The buyer widget (SPEC F1-F4): the widget REST API for state and actions, /ws/widget/ for
 * messages both ways through the shared client (static/js/socket.js, loaded before this file:
 * resume with ?after, resync, heartbeat, reconnection, the send queue; docs/realtime.md).
 * Mobile first, no dependencies; strings come translated from the page's data-msg-* attributes. */
(function () {
  "use strict";

  var root = document.querySelector("[data-widget]");
  if (!root) return;
  // The shop's accent colour (its widget display settings), through the CSSOM: no inline style.
  if (/^#[0-9a-fA-F]{6}$/.test(root.dataset.color || "")) {
    document.documentElement.style.setProperty("--c-primary", root.dataset.color);
  }

  var API = "/api/v1/widget/";

  // The widget is as tall as what the buyer sees (CSS: 100dvh); while a phone's keyboard is up
  // the visual viewport is shorter still, and the composer must stay above the keyboard.
  var viewport = window.visualViewport;
  if (viewport) {
    var fit = function () {
      var style = document.documentElement.style;
      // Pinch zoom shrinks the visual viewport too: only an unzoomed page follows it.
      if (Math.abs(viewport.scale - 1) < 0.01) {
        style.setProperty("--widget-height", viewport.height + "px");
      } else {
        style.removeProperty("--widget-height");
      }
    };
    viewport.addEventListener("resize", fit);
    fit();
  }

  var messages = root.querySelector("[data-messages]");
  var stateText = root.querySelector("[data-state-text]");
  var askHuman = root.querySelector("[data-ask-human]");
  var refresh = root.querySelector("[data-refresh]");
  var leaveButton = root.querySelector("[data-leave]");
  var typing = root.querySelector("[data-typing]");
  var rating = root.querySelector("[data-rating]");
  var rated = root.querySelector("[data-rated]");
  var composer = root.querySelector("[data-composer]");
  var input = composer.querySelector("input");
  var feedback = root.querySelector("[data-feedback]");
  var connection = root.querySelector("[data-connection]");
  var subtitle = connection.textContent;

  var token = null;
  var conversation = null; // as GET /widget/conversation/ shows it
  var shownConversation = null; // the conversation whose messages were loaded last
  var socket = null; // the shared client (HelpdeskSocket), once the session is open
  var typingTimer = null;

  function msg(name) {
    return root.getAttribute("data-msg-" + name) || "";
  }

  // Modules loaded after this file (cards, images) register with window.WidgetChat.on(name, fn):
  // "bubble" ({item, message}) for each message drawn, "event" ({type, data}) for each event.
  var hooks = { bubble: [], event: [] };

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
    for (var field in payload.errors || {}) {
      var list = payload.errors[field];
      if (list && list.length) return String(list[0]);
    }
    return "";
  }

  function api(method, path, body) {
    var headers = { Accept: "application/json", "Content-Type": "application/json" };
    if (token) headers.Authorization = "Buyer " + token;
    return fetch(API + path, {
      method: method,
      headers: headers,
      credentials: "omit",
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

  function say(text) {
    feedback.textContent = text;
    feedback.hidden = !text;
  }

  // --- Messages -----------------------------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function bubble(m) {
    var kind = m.sender === "buyer" ? "mine" : m.sender;
    var item = el("li", "bubble bubble--" + kind);
    if (m.id) item.dataset.messageId = m.id;
    if (m.client_id) item.dataset.clientId = m.client_id;
    var who = { buyer: "you", agent: "agent", assistant: "assistant", system: "system" }[m.sender];
    item.appendChild(el("span", "bubble__sender", msg(who || "system")));
    item.appendChild(el("p", "", m.body));
    emit("bubble", { item: item, message: m });
    return item;
  }

  function show(m) {
    if (m.id && messages.querySelector('[data-message-id="' + m.id + '"]')) return;
    var node = bubble(m);
    var pending =
      m.client_id && m.sender === "buyer" &&
      messages.querySelector('[data-client-id="' + m.client_id + '"]');
    if (pending) messages.replaceChild(node, pending);
    else messages.appendChild(node);
    node.scrollIntoView({ block: "end" });
  }

  /** The messages of the buyer's current conversation, below those already on screen: a new
   * conversation (writing after the end) keeps the earlier one's history above a divider. */
  function loadMessages() {
    var id = conversation ? conversation.id : null;
    if (shownConversation !== null && id !== null && id !== shownConversation) {
      if (!dividerShown) divider();
      dividerShown = false;
    }
    if (id !== null) shownConversation = id;
    return loadPage("conversation/messages/?after_seq=0");
  }

  var dividerShown = false; // a divider waits for the conversation the buyer's writing opens

  function divider() {
    var node = el("li", "widget__divider", msg("new-conversation"));
    node.setAttribute("role", "separator");
    messages.appendChild(node);
    dividerShown = true;
  }

  function loadPage(path) {
    return api("GET", path).then(function (r) {
      if (!r.ok) return;
      (r.data.results || []).forEach(show);
      var at = r.data.next ? r.data.next.indexOf(API) : -1;
      if (at >= 0) return loadPage(r.data.next.slice(at + API.length));
    });
  }

  // --- State: assistant, queued (position, refresh, leave), active, pooled, closed (rate) ----

  function render() {
    var c = conversation;
    var state = c ? c.state : "assistant";
    askHuman.hidden = state !== "assistant";
    refresh.hidden = state !== "queued";
    leaveButton.hidden = state !== "queued";
    if (state === "queued") {
      var q = c.queue || {};
      stateText.textContent = q.hidden || q.position == null
        ? msg("queue-hidden")
        : msg("queue")
            .replace("{position}", q.position)
            .replace("{minutes}", Math.max(1, Math.ceil((q.eta_seconds || 0) / 60)));
    } else {
      stateText.textContent = msg("state-" + state);
    }
    // Not once the buyer has written again: that opens a new conversation (F4).
    var rateable =
      state === "closed" && !c.rating && c.close_reason !== "buyer_left" && !dividerShown;
    rating.hidden = !rateable || !rated.hidden;
    if (state !== "active") typing.hidden = true;
  }

  function loadConversation() {
    var before = conversation ? conversation.id : null;
    return api("GET", "conversation/").then(function (r) {
      if (r.ok) {
        conversation = r.data;
      } else if (r.status === 404) {
        return api("POST", "conversation/", { human: false }).then(function (created) {
          if (created.ok) conversation = created.data;
        });
      }
    }).then(function () {
      if (conversation && before !== null && conversation.id !== before) newConversation();
      render();
    });
  }

  /** A new conversation began (F4): the last one's rating thanks and form are done with. */
  function newConversation() {
    rated.hidden = true;
    rated.textContent = "";
    rating.reset();
    rating.hidden = true;
  }

  askHuman.addEventListener("click", function () {
    askHuman.disabled = true;
    api("POST", "conversation/", { human: true }).then(function (r) {
      askHuman.disabled = false;
      if (r.ok) conversation = r.data;
      else say(firstError(r.data) || msg("error"));
      render();
    });
  });

  refresh.addEventListener("click", function () {
    loadConversation();
  });

  leaveButton.addEventListener("click", function () {
    api("POST", "conversation/leave/").then(function (r) {
      if (r.ok) conversation = r.data;
      render();
    });
  });

  rating.addEventListener("submit", function (event) {
    event.preventDefault();
    var score = rating.querySelector("input[name=score]:checked");
    if (!score) return;
    api("POST", "conversation/rating/", {
      score: parseInt(score.value, 10),
      comment: rating.elements.comment.value,
    }).then(function (r) {
      if (r.ok || r.status === 409) {
        rating.hidden = true;
        rated.textContent = msg("rated");
        rated.hidden = false;
      } else {
        say(firstError(r.data) || msg("error"));
      }
    });
  });

  // --- Writing --------------------------------------------------------------------------------

  function clientId() {
    return "b" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
  }

  function failed(cid, why) {
    var node = messages.querySelector('[data-client-id="' + cid + '"]');
    if (node) {
      node.classList.add("is-failed");
      node.querySelector(".bubble__sender").textContent = msg("send-failed") + " " + why;
    }
  }

  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = input.value.trim();
    if (!body) return;
    input.value = "";
    say("");
    if (conversation && conversation.state === "closed" && !dividerShown) {
      divider(); // this message opens a new conversation, below the one that ended
      newConversation();
    }
    var cid = clientId();
    var pending = bubble({ sender: "buyer", body: body, client_id: cid });
    pending.classList.add("is-pending");
    pending.querySelector(".bubble__sender").textContent = msg("sending");
    messages.appendChild(pending);
    pending.scrollIntoView({ block: "end" });
    var frame = { type: "message.send", body: body, client_id: cid };
    if (socket) socket.send(frame); // now, or queued and tried through REST (sendByRest)
    else sendByRest(frame);
  });

  /** A message while the socket is down: the same service through REST, with the same
   * client_id. Unreachable (or a server error): it rejects, and the socket sends the frame
   * once it is back (stored once whichever way arrives first). */
  function sendByRest(frame) {
    var cid = frame.client_id;
    return api("POST", "conversation/messages/", { body: frame.body, client_id: cid }).then(
      function (r) {
        if (r.status >= 500) throw new Error(String(r.status));
        if (r.ok) show(r.data);
        else failed(cid, firstError(r.data) || r.status);
      }
    );
  }

  var lastTyping = 0;
  input.addEventListener("input", function () {
    var active = conversation && conversation.state === "active";
    if (active && Date.now() - lastTyping > 2000 && socket && socket.isOpen()) {
      lastTyping = Date.now();
      socket.send({ type: "typing" });
    }
  });

  // --- Events -------------------------------------------------------------------------------

  var following = null; // the load of a new conversation, while under way

  function onEvent(type, data) {
    emit("event", { type: type, data: data });
    if (type === "message.updated") {
      var shown = data.id && messages.querySelector('[data-message-id="' + data.id + '"]');
      if (shown) messages.replaceChild(bubble(data), shown);
      return;
    }
    if (type === "message.created") {
      if (conversation && data.conversation !== conversation.id) {
        // Writing after the end opened a new conversation: follow it, below the earlier one.
        if (!following) {
          var done = function () {
            following = null;
          };
          following = loadConversation().then(loadMessages).then(done, done);
        }
        return;
      }
      show(data);
      if (data.sender === "agent") typing.hidden = true;
    } else if (type === "conversation.updated" || type === "conversation.closed") {
      if (!conversation || data.id === conversation.id) {
        conversation = Object.assign({}, conversation || {}, data);
        if (data.state !== "queued") conversation.queue = null;
        if (data.state === "queued" && !data.queue) {
          loadConversation(); // the figures come with GET (computed when read, C5)
          return;
        }
        render();
      }
    } else if (type === "queue.updated") {
      if (conversation && data.conversation === conversation.id) {
        conversation.queue = data;
        render();
      }
    }
  }

  var blockedText = ""; // SPEC I6: what the shop's block says, once told

  /** Frames outside the stream (hello, pong and resync are the client's). */
  function onFrame(frame) {
    if (frame.type === "ack") {
      show(frame.data.message);
    } else if (frame.type === "error") {
      var request = frame.data.request || {};
      if (request.client_id) failed(request.client_id, frame.data.detail || firstError(frame.data));
      else if (frame.data.code === "blocked") {
        // SPEC I6: the shop blocked this buyer; the server closes the socket next.
        blockedText = frame.data.detail || msg("error");
        stateText.textContent = blockedText;
        say(blockedText);
        input.disabled = true;
        Array.prototype.forEach.call(composer.querySelectorAll("button"), function (b) {
          b.disabled = true;
        });
      }
    } else if (frame.type === "typing") {
      typing.textContent = msg("typing");
      typing.hidden = false;
      window.clearTimeout(typingTimer);
      typingTimer = window.setTimeout(function () {
        typing.hidden = true;
      }, 4000);
    }
  }

  function onState(state) {
    if (state === "connected") {
      connection.textContent = subtitle;
    } else if (state === "connecting") {
      connection.textContent = msg("connecting");
    } else if (state === "reconnecting" || state === "offline") {
      connection.textContent = msg("reconnecting");
    } else if (state === "unauthorized") {
      // The buyer token is no longer accepted (it expired, or the shop blocked the buyer).
      connection.textContent = blockedText || msg("session-ended");
      say(blockedText || msg("session-ended"));
      composer.querySelector("button").disabled = true;
    }
  }

  /** The socket of this buyer's session (static/js/socket.js). */
  function connect() {
    socket = window.HelpdeskSocket.create({
      path: root.dataset.wsPath,
      // A single-use ticket per connection, asked for with the buyer token (issue 12, I7): the
      // token itself never travels in the socket's URL.
      authQuery: window.HelpdeskSocket.ticketQuery(function () {
        return fetch(root.dataset.wsTicketUrl, {
          method: "POST",
          headers: { Accept: "application/json", Authorization: "Buyer " + token },
          credentials: "omit",
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
      }),
      // A refused handshake (an expired token) looks like a dropped connection: ask REST.
      checkAuth: function () {
        return api("GET", "conversation/").then(
          function (r) {
            return r.status !== 401 && r.status !== 403;
          },
          function () {
            return true; // unreachable: try again later
          }
        );
      },
      fallback: sendByRest,
      onState: onState,
      onHello: function (data, info) {
        if (info.first) loadConversation().then(loadMessages);
      },
      onResync: function () {
        loadConversation().then(loadMessages);
      },
      onEvent: onEvent,
      onFrame: onFrame,
    });
    socket.start();
  }

  // --- Start: a signed session (H3), then the socket ----------------------------------------

  // The identity: in the page (the demo), or, framed by a shop's page (embed.js), in the URL's
  // fragment, which no server log nor Referer sees (H3: the shop's server signed it).
  var identity = { buyer_id: root.dataset.buyerId, signature: root.dataset.signature };
  if (root.dataset.identityFromHash) {
    var hash = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    identity = {
      buyer_id: hash.get("buyer_id") || "",
      signature: hash.get("signature") || "",
      name: hash.get("name") || "",
    };
  }
  var session = {
    shop: root.dataset.shop,
    buyer_id: identity.buyer_id,
    signature: identity.signature,
    entrance: root.dataset.entrance,
  };
  if (identity.name) session.name = identity.name;
  if (root.dataset.product) session.product = root.dataset.product;
  if (root.dataset.order) session.order = root.dataset.order;
  api("POST", "session/", session).then(
    function (r) {
      if (!r.ok) {
        stateText.textContent = firstError(r.data) || msg("error");
        composer.querySelector("button").disabled = true;
        return;
      }
      token = r.data.token;
      connect();
    },
    function () {
      stateText.textContent = msg("error");
    }
  );
  window.WidgetChat = {
    el: el,
    firstError: firstError,
    on: function (name, fn) {
      hooks[name].push(fn);
    },
    api: api,
    msg: msg,
    token: function () {
      return token;
    },
    conversation: function () {
      return conversation;
    },
  };
})();
