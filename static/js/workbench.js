/* Agent workbench (SPEC E1): status switch, own max concurrent, the /ws/agent/ connection.
 * No dependencies. Strings come translated from the page's data-msg-* attributes. */
(function () {
  "use strict";

  var root = document.querySelector("[data-workbench]");
  if (!root) return;

  var PING_EVERY_MS = 20000;
  var MAX_BACKOFF_MS = 30000;
  var CLOSE_REVOKED = 4403; // account disabled, deleted or password changed
  var CLOSE_UNAUTHENTICATED = 4401;
  var REVOKED_CHECK_DELAY_MS = 1500;

  var csrfInput = root.querySelector("input[name=csrfmiddlewaretoken]");
  var csrfToken = csrfInput ? csrfInput.value : "";

  function msg(name) {
    return root.getAttribute("data-msg-" + name) || "";
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
    stopSocket();
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

  // --- WebSocket /ws/agent/ ---------------------------------------------------------------

  var socket = null;
  var pingTimer = null;
  var retryTimer = null;
  var attempts = 0;
  var awaitingPong = false;

  function socketUrl() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + window.location.host + root.dataset.wsPath;
  }

  function stopSocket() {
    window.clearInterval(pingTimer);
    window.clearTimeout(retryTimer);
    if (socket) {
      socket.onclose = null;
      socket.close();
      socket = null;
    }
  }

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  }

  function ping() {
    if (awaitingPong) {
      // No answer to the last ping: the connection is dead even if the browser has not noticed.
      if (socket) socket.close();
      return;
    }
    awaitingPong = true;
    send({ type: "ping" });
  }

  function scheduleReconnect() {
    var delay = Math.min(MAX_BACKOFF_MS, 1000 * Math.pow(2, attempts));
    delay = Math.round(delay * (0.5 + Math.random() * 0.5)); // jitter: not every tab at once
    attempts += 1;
    showConnection("lost", msg("reconnecting").replace("{seconds}", Math.ceil(delay / 1000)));
    retryTimer = window.setTimeout(function () {
      // A refused handshake looks like any dropped connection: ask whether we are still in.
      checkSignedOut("signed-out").then(function (alive) {
        if (alive) connect();
      });
    }, delay);
  }

  function onMessage(event) {
    var frame;
    try {
      frame = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    if (!frame || typeof frame !== "object") return;
    switch (frame.type) {
      case "hello":
        attempts = 0;
        showConnection("connected", msg("connected"));
        break;
      case "pong":
        awaitingPong = false;
        break;
      case "ping":
        send({ type: "pong" });
        break;
      case "agent.status":
        if (frame.data && frame.data.status) showStatus(frame.data.status);
        break;
      default:
        // Conversation events arrive with the routing and real-time issues.
        break;
    }
  }

  function connect() {
    if (leaving) return;
    window.clearTimeout(retryTimer);
    showConnection("connecting", msg("connecting"));
    awaitingPong = false;
    try {
      socket = new WebSocket(socketUrl());
    } catch (error) {
      scheduleReconnect();
      return;
    }
    socket.onmessage = onMessage;
    socket.onopen = function () {
      window.clearInterval(pingTimer);
      pingTimer = window.setInterval(ping, PING_EVERY_MS);
    };
    socket.onclose = function (event) {
      window.clearInterval(pingTimer);
      socket = null;
      if (leaving) return;
      if (event.code === CLOSE_REVOKED) {
        // Revoked for this account. This very session may have survived (the account reset its
        // own password in another tab): give that tab's answer time to renew the session cookie.
        showConnection("connecting", msg("connecting"));
        retryTimer = window.setTimeout(function () {
          checkSignedOut("revoked").then(function (alive) {
            if (alive) scheduleReconnect();
          });
        }, REVOKED_CHECK_DELAY_MS);
      } else if (event.code === CLOSE_UNAUTHENTICATED) {
        leave("signed-out");
      } else {
        scheduleReconnect();
      }
    };
  }

  window.addEventListener("online", function () {
    if (!socket && !leaving) {
      attempts = 0;
      connect();
    }
  });

  connect();
})();
