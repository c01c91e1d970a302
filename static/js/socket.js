/* The one WebSocket client of the product's pages: the agent workbench (/ws/agent/,
 * static/js/workbench.js) and the buyer widget (/ws/widget/, static/js/widget.js) both talk to
 * their socket through it (docs/realtime.md, "The shared socket client"). No dependencies, no
 * bundler: a plain script, loaded before the page's own, that defines window.HelpdeskSocket.
 *
 *   var client = HelpdeskSocket.create({
 *     path: "/ws/agent/",            // or url(query): the whole URL, for another host
 *     token: fn | string,            // the default authQuery's "token=<token>" (none: no query)
 *     authQuery: fn,                 // the hook: () -> query string or a Promise of one, asked
 *                                    // before every attempt (single-use tickets fit here)
 *     checkAuth: fn,                 // () -> Promise<boolean>: still signed in? (see below)
 *     fallback: fn,                  // (frame) -> Promise: a message.send while disconnected
 *     onEvent: fn(type, data, frame) // each stream event, once, in stream_seq order
 *     onHello: fn(data, {first}),    // connected (first: no stream_seq yet: load the state)
 *     onResync: fn(data),            // the missed events are gone: load the state again
 *     onFrame: fn(frame),            // other frames: ack, error, typing
 *     onState: fn(state, info),      // connecting | connected | reconnecting | offline |
 *                                    // unauthorized | stopped
 *   });
 *   client.start(); client.send(frame); client.stop();
 *
 * The product's pages authenticate with single-use tickets (POST /api/v1/ws-ticket/, issue 12):
 * authQuery: HelpdeskSocket.ticketQuery(function () { return api("POST", ticketUrl); }).
 *
 * Resume: every reconnection asks for ?after=<the last stream_seq handled>; an event seen twice
 * is dropped by its seq. Heartbeat: a ping every hello.ping_seconds; a ping still unanswered
 * when the next is due (nothing at all received since) means a dead connection, dropped and
 * reconnected. Reconnecting: exponential backoff, capped, with jitter; at once when the browser
 * comes back online or the tab comes back to the front. Frames with a client_id (message.send)
 * stay queued until their ack or error, and are sent again on every new connection (the server
 * stores a client_id once: a resend answers the stored message); while disconnected the page's
 * fallback (its REST endpoint, same client_id) is tried once, and a frame it did not settle waits
 * for the socket. Other frames (typing) are sent only while connected.
 * Close codes: 4401 stops at once, 4403 asks checkAuth (after a moment) and stops unless still
 * signed in, either way onState("unauthorized", {code}); a handshake refused (the socket closed
 * before hello, as a 403 does) asks checkAuth before the next attempt; 4400 (the query was
 * refused) starts the stream afresh. */
(function () {
  "use strict";

  var CLOSE_NORMAL = 1000;
  var CLOSE_DEAD = 1006; // our own verdict: no answer to pings, or no hello in time
  var CLOSE_BAD_REQUEST = 4400;

  /** Tunable by tests (and by a page before it creates its client): read at each use. A page
   * may also set window.HelpdeskSocketDefaults before this script runs. */
  var defaults = {
    baseDelayMs: 1000, // the first reconnection's delay, doubled per failed attempt
    maxDelayMs: 30000, // the cap
    jitter: 0.5, // each delay is scaled by 1 - jitter * random: not every tab at once
    pingMs: 20000, // when hello names no ping_seconds
    openTimeoutMs: 15000, // from the attempt to hello: a socket stuck before it is dropped
    authCheckDelayMs: 1500, // after 4403, before checkAuth (another tab may renew the cookie)
    stopCodes: [4401], // unauthenticated: never retried
    authCodes: [4403], // access revoked: retried only while checkAuth says yes
    maxQueued: 200, // frames kept for a resend at most (the oldest are given up first)
  };
  if (window.HelpdeskSocketDefaults) {
    Object.keys(window.HelpdeskSocketDefaults).forEach(function (key) {
      defaults[key] = window.HelpdeskSocketDefaults[key];
    });
  }

  function report(error) {
    if (window.console) window.console.error(error);
  }

  function create(options) {
    var o = options || {};
    var socket = null; // the current WebSocket, from the attempt to its close
    var phase = "idle"; // idle | connecting | open (hello seen) | waiting | checking | stopped
    var lastSeq = null; // the last stream_seq handled: reconnections resume after it
    var attempts = 0; // failed attempts since the last hello (the backoff's exponent)
    var refused = false; // the last socket closed before its hello: ask checkAuth first
    var lastCode = null;
    var awaitingPong = false;
    var retryAt = 0; // when the waiting reconnection is due (Date.now() time)
    var generation = 0; // an attempt whose hook answers late must not open a second socket
    var timers = { retry: null, ping: null, open: null, check: null };
    var queue = []; // frames with a client_id waiting for their ack or error, in order

    function opt(name) {
      return o[name] !== undefined ? o[name] : defaults[name];
    }

    function call(name) {
      if (typeof o[name] !== "function") return undefined;
      try {
        return o[name].apply(null, Array.prototype.slice.call(arguments, 1));
      } catch (error) {
        report(error);
        return undefined;
      }
    }

    function setState(state, info) {
      call("onState", state, info || {});
    }

    function clear(name) {
      window.clearTimeout(timers[name]);
      window.clearInterval(timers[name]);
      timers[name] = null;
    }

    function ready() {
      return phase === "open" && socket !== null && socket.readyState === 1;
    }

    // --- URL ---------------------------------------------------------------------------------

    /** The authentication part of the query, without "?": the hook, or "token=<token>". */
    function authQuery() {
      if (typeof o.authQuery === "function") return o.authQuery();
      var token = typeof o.token === "function" ? o.token() : o.token;
      return token ? "token=" + encodeURIComponent(token) : "";
    }

    function buildUrl(auth) {
      var parts = [];
      if (auth) parts.push(String(auth).replace(/^[?&]+/, ""));
      if (lastSeq !== null) parts.push("after=" + lastSeq);
      var query = parts.join("&");
      if (typeof o.url === "function") return o.url(query);
      var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      return scheme + window.location.host + o.path + (query ? "?" + query : "");
    }

    // --- Connecting and reconnecting ---------------------------------------------------------

    function connect() {
      if (phase === "stopped") return;
      clear("retry");
      clear("check");
      var attempt = (generation += 1);
      phase = "connecting";
      setState("connecting", { attempt: attempts });
      var current = function () {
        return attempt === generation && phase === "connecting";
      };
      var allowed = refused && typeof o.checkAuth === "function" ? call("checkAuth") : true;
      Promise.resolve(allowed)
        .then(function (alive) {
          if (!current()) return;
          if (alive === false) {
            unauthorized(lastCode);
            return;
          }
          return Promise.resolve(authQuery()).then(function (auth) {
            if (current()) open(buildUrl(auth));
          });
        })
        .catch(function (error) {
          if (!current()) return;
          // The hook may refuse for good (a ticket endpoint answering 401/403).
          if (error && error.unauthorized) unauthorized(null);
          else retry(null);
        });
    }

    function open(url) {
      var ws;
      try {
        ws = new WebSocket(url);
      } catch (error) {
        report(error);
        retry(null);
        return;
      }
      socket = ws;
      awaitingPong = false;
      timers.open = window.setTimeout(function () {
        if (socket === ws && phase !== "open") drop(ws);
      }, opt("openTimeoutMs"));
      ws.onmessage = function (event) {
        if (socket === ws) receive(event.data);
      };
      ws.onclose = function (event) {
        if (socket === ws) closed(event.code);
      };
      ws.onerror = function () {}; // a close follows
    }

    /** Gives up a socket that no longer answers: it may take the browser long to notice. */
    function drop(ws) {
      if (ws !== socket) return;
      ws.onmessage = null;
      ws.onclose = null;
      try {
        ws.close();
      } catch (error) {
        // already closing
      }
      closed(CLOSE_DEAD);
    }

    function closed(code) {
      clear("ping");
      clear("open");
      var hadHello = phase === "open";
      socket = null;
      if (phase === "stopped") return;
      lastCode = code;
      refused = !hadHello;
      if (code === CLOSE_BAD_REQUEST) lastSeq = null; // our ?after= was refused: start afresh
      if (opt("stopCodes").indexOf(code) >= 0) {
        unauthorized(code);
      } else if (opt("authCodes").indexOf(code) >= 0) {
        if (typeof o.checkAuth !== "function") {
          unauthorized(code);
          return;
        }
        phase = "checking";
        setState("connecting", { code: code, checking: true });
        timers.check = window.setTimeout(function () {
          Promise.resolve(call("checkAuth")).then(
            function (alive) {
              if (phase !== "checking") return;
              if (alive === false) {
                unauthorized(code);
              } else {
                refused = false;
                retry(code);
              }
            },
            function () {
              if (phase === "checking") retry(code);
            }
          );
        }, opt("authCheckDelayMs"));
      } else {
        retry(code);
      }
    }

    function retry(code) {
      if (phase === "stopped") return;
      socket = null;
      var delay = Math.min(opt("maxDelayMs"), opt("baseDelayMs") * Math.pow(2, attempts));
      delay = Math.max(0, Math.round(delay * (1 - opt("jitter") * Math.random())));
      attempts += 1;
      phase = "waiting";
      retryAt = Date.now() + delay;
      var offline = window.navigator && window.navigator.onLine === false;
      setState(offline ? "offline" : "reconnecting", {
        delay: delay,
        attempt: attempts,
        code: code,
      });
      timers.retry = window.setTimeout(connect, delay);
    }

    function halt() {
      generation += 1;
      Object.keys(timers).forEach(clear);
      var ws = socket;
      socket = null;
      phase = "stopped";
      if (ws) {
        ws.onmessage = null;
        ws.onclose = null;
        try {
          ws.close(CLOSE_NORMAL);
        } catch (error) {
          // already closed
        }
      }
    }

    function unauthorized(code) {
      halt();
      setState("unauthorized", { code: code });
    }

    // --- Frames ------------------------------------------------------------------------------

    function receive(text) {
      var frame;
      try {
        frame = JSON.parse(text);
      } catch (error) {
        return;
      }
      if (!frame || typeof frame !== "object") return;
      awaitingPong = false; // anything received: the connection carries frames
      var data = frame.data && typeof frame.data === "object" ? frame.data : {};
      if (typeof frame.stream_seq === "number") {
        if (lastSeq !== null && frame.stream_seq <= lastSeq) return; // seen already
        lastSeq = frame.stream_seq;
        call("onEvent", frame.type, data, frame);
        return;
      }
      switch (frame.type) {
        case "hello":
          hello(data);
          return;
        case "pong":
          return;
        case "resync":
          if (typeof data.last_seq === "number") lastSeq = data.last_seq;
          call("onResync", data);
          return;
        case "ack":
          settle(data.client_id);
          break;
        case "error":
          if (data.request && data.request.client_id) settle(data.request.client_id);
          break;
        default:
          break;
      }
      call("onFrame", frame);
    }

    function hello(data) {
      clear("open");
      phase = "open";
      attempts = 0;
      refused = false;
      var first = lastSeq === null;
      if (first && typeof data.last_seq === "number") lastSeq = data.last_seq;
      heartbeat(data.ping_seconds > 0 ? data.ping_seconds * 1000 : opt("pingMs"));
      setState("connected", { first: first });
      call("onHello", data, { first: first });
      // What waited for a connection, and what the last one took without an answer, in order.
      queue.slice().forEach(function (frame) {
        if (ready()) transmit(frame);
      });
    }

    function transmit(frame) {
      try {
        socket.send(JSON.stringify(frame));
        return true;
      } catch (error) {
        return false;
      }
    }

    var pingEvery = 0;

    function heartbeat(every) {
      pingEvery = every;
      clear("ping");
      timers.ping = window.setInterval(ping, every);
    }

    function ping() {
      if (!ready()) return;
      if (awaitingPong) {
        // Nothing since the last ping: the connection is dead even if the browser has not noticed.
        drop(socket);
        return;
      }
      awaitingPong = true;
      transmit({ type: "ping" });
    }

    /** Is the connection still alive? A ping now; the next tick of the heartbeat, a whole
     * interval later, decides. */
    function probe() {
      if (!ready() || awaitingPong) return;
      heartbeat(pingEvery);
      awaitingPong = true;
      transmit({ type: "ping" });
    }

    function settle(clientId) {
      if (!clientId) return;
      queue = queue.filter(function (frame) {
        return frame.client_id !== clientId;
      });
    }

    /** Sends a frame now if connected. A frame with a client_id is kept until its ack or error
     * and sent again on a new connection; while disconnected, the page's fallback is tried. A
     * frame without one (typing) is dropped when not connected. True when it went out now. */
    function send(frame) {
      var clientId = frame && frame.client_id;
      if (clientId) {
        settle(clientId);
        queue.push(frame);
        if (queue.length > opt("maxQueued")) queue.shift();
      }
      if (ready()) return transmit(frame);
      if (clientId && typeof o.fallback === "function") {
        Promise.resolve(call("fallback", frame)).then(
          function () {
            settle(clientId); // the page has the answer, stored or refused
          },
          function () {
            // unreachable: the frame waits for the socket
          }
        );
      }
      return false;
    }

    // --- The browser's hints -----------------------------------------------------------------

    function now() {
      if (phase === "waiting") {
        attempts = 0;
        connect();
      }
    }

    window.addEventListener("online", now);
    window.addEventListener("offline", function () {
      if (ready()) probe();
      else if (phase === "waiting") {
        setState("offline", { delay: Math.max(0, retryAt - Date.now()), attempt: attempts });
      }
    });
    document.addEventListener("visibilitychange", function () {
      if (document.hidden) return;
      if (phase === "waiting") {
        clear("retry");
        connect();
      } else {
        probe();
      }
    });

    return {
      /** Opens the first connection (again after stop()). */
      start: function () {
        if (phase !== "idle" && phase !== "stopped") return;
        phase = "idle";
        attempts = 0;
        refused = false;
        connect();
      },
      /** Closes the socket for good: no reconnection until start(). */
      stop: function () {
        if (phase === "stopped") return;
        halt();
        setState("stopped", {});
      },
      send: send,
      /** Forgets a queued frame (its answer came another way). */
      settle: settle,
      /** Connects at once if a reconnection is waiting for its delay. */
      reconnectNow: now,
      isOpen: ready,
      lastSeq: function () {
        return lastSeq;
      },
      queued: function () {
        return queue.slice();
      },
    };
  }

  /** An authQuery hook that asks for a single-use ticket before every attempt (issue 12, I7):
   * `request()` POSTs to /api/v1/ws-ticket/ with the page's own credentials and resolves to
   * {ok, status, data}. 401/403 stop the client (signed out); other failures are retried. */
  function ticketQuery(request) {
    return function () {
      return Promise.resolve(request()).then(function (answer) {
        if (answer && answer.ok && answer.data && answer.data.ticket) {
          return "ticket=" + encodeURIComponent(answer.data.ticket);
        }
        var error = new Error("no socket ticket (" + (answer ? answer.status : "?") + ")");
        error.unauthorized = !!answer && (answer.status === 401 || answer.status === 403);
        throw error;
      });
    };
  }

  window.HelpdeskSocket = {
    create: create,
    defaults: defaults,
    ticketQuery: ticketQuery,
    CLOSE_BAD_REQUEST: CLOSE_BAD_REQUEST,
  };
})();
