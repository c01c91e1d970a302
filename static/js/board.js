// The live board (SPEC G2): drawn from the body of GET /api/v1/monitor/ (embedded in the page),
// then from every monitor.updated on /ws/monitor/ (the account's stream, no presence): no
// polling. On each (re)connection the board is read once through REST, since pushes made while
// the socket was down are not replayed here (the newest board is all that matters). The waits
// count on in the page between pushes. No dependencies; data set with textContent only.
(function () {
  "use strict";
  var root = document.querySelector("[data-board]");
  if (!root) return;

  function msg(name) {
    return root.getAttribute("data-msg-" + name) || name;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function percent(rate) {
    return rate === null || rate === undefined ? "—" : (rate * 100).toFixed(1) + " %";
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    var whole = Math.max(0, Math.round(seconds));
    var h = Math.floor(whole / 3600);
    var m = Math.floor((whole % 3600) / 60);
    var s = whole % 60;
    var mm = (h && m < 10 ? "0" : "") + m;
    return (h ? h + ":" : "") + mm + ":" + (s < 10 ? "0" : "") + s;
  }

  function verdict(met) {
    if (met === true) return el("span", "badge badge--ok", msg("met"));
    if (met === false) return el("span", "badge badge--off", msg("not-met"));
    return el("span", "muted", "—");
  }

  // --- Drawing ------------------------------------------------------------------------------

  var board = null;
  var offsetMs = 0; // the server's clock minus ours, from the board's generated_at

  function serverNow() {
    return Date.now() + offsetMs;
  }

  function waitedSeconds(group) {
    if (!group.waiting_since) return 0;
    return Math.max(0, (serverNow() - Date.parse(group.waiting_since)) / 1000);
  }

  function drawToday(today, targets) {
    var set = function (name, value) {
      var node = root.querySelector('[data-stat="' + name + '"]');
      if (node) node.textContent = value;
    };
    set("conversations", today.conversations);
    set("answered", today.answered);
    set("first_response_2min_rate", percent(today.first_response_2min_rate));
    set("avg_first_response_seconds", duration(today.avg_first_response_seconds));
    set("left_queue", today.left_queue);
    set(
      "ratings",
      today.ratings_count ? today.ratings_avg.toFixed(2) + " (" + today.ratings_count + ")" : "—"
    );
    var note = root.querySelector('[data-stat-note="rate"]');
    var box = root.querySelector('[data-stat-box="rate"]');
    note.textContent = "";
    box.classList.remove("stat--ok", "stat--off");
    if (targets.first_response_2min_rate === null) {
      note.textContent = msg("no-target");
    } else {
      note.appendChild(verdict(today.targets_met));
      note.appendChild(
        document.createTextNode(" " + msg("target").replace("{value}", percent(targets.first_response_2min_rate)))
      );
      if (today.targets_met !== null) box.classList.add(today.targets_met ? "stat--ok" : "stat--off");
    }
  }

  function drawGroups(groups) {
    var body = root.querySelector("[data-groups]");
    body.textContent = "";
    groups.forEach(function (group) {
      var row = el("tr");
      row.dataset.group = group.id === null ? "shop" : String(group.id);
      var name = el("th", group.id === null ? "board-table__total" : "", group.id === null ? msg("whole-shop") : group.name);
      name.scope = "row";
      row.appendChild(name);
      row.appendChild(el("td", "num", group.waiting)).dataset.waiting = "";
      var wait = el("td", "num", group.waiting ? duration(waitedSeconds(group)) : "—");
      wait.dataset.wait = "";
      if (group.waiting && waitedSeconds(group) >= 120) wait.classList.add("is-late");
      row.appendChild(wait);
      body.appendChild(row);
    });
  }

  function loadBar(agent) {
    var cell = el("td", "board-load");
    var max = agent.max_concurrent || 1;
    var share = Math.min(1, agent.open_conversations / max);
    var bar = el("span", "load-bar");
    bar.setAttribute("aria-hidden", "true");
    var fill = el("span", "load-bar__fill" + (share >= 1 ? " is-full" : share >= 0.8 ? " is-high" : ""));
    fill.style.width = Math.round(share * 100) + "%";
    bar.appendChild(fill);
    cell.appendChild(bar);
    var text = el("span", "load-bar__text", agent.open_conversations + " / " + agent.max_concurrent);
    text.title = msg("load").replace("{open}", agent.open_conversations).replace("{max}", agent.max_concurrent);
    cell.appendChild(text);
    return cell;
  }

  function drawAgents(agents) {
    var body = root.querySelector("[data-agents]");
    body.textContent = "";
    if (!agents.length) {
      var empty = el("tr");
      var cell = el("td", "muted", msg("no-agents"));
      cell.colSpan = 6;
      empty.appendChild(cell);
      body.appendChild(empty);
      return;
    }
    agents.forEach(function (agent) {
      var row = el("tr");
      row.dataset.agent = String(agent.id);
      var name = el("th", "", agent.display_name);
      name.scope = "row";
      if (!agent.routing_enabled) name.appendChild(el("span", "badge board-badge", msg("not-routing")));
      row.appendChild(name);
      var status = el("td");
      status.appendChild(el("span", "status status--" + agent.status, msg(agent.status)));
      row.appendChild(status);
      row.appendChild(loadBar(agent));
      row.appendChild(el("td", "num", agent.conversations_today));
      row.appendChild(el("td", "num", percent(agent.first_response_2min_rate)));
      var target = el("td");
      target.appendChild(verdict(agent.targets_met));
      row.appendChild(target);
      body.appendChild(row);
    });
  }

  function draw(data) {
    board = data;
    offsetMs = Date.parse(data.generated_at) - Date.now();
    drawToday(data.today, data.targets);
    drawGroups(data.groups);
    drawAgents(data.agents);
    var updated = root.querySelector("[data-updated]");
    updated.textContent = msg("updated").replace("{time}", new Date(Date.parse(data.generated_at)).toLocaleTimeString());
  }

  // Between pushes the longest waits count on (the page's own clock, no request).
  window.setInterval(function () {
    if (!board) return;
    var cells = root.querySelectorAll("[data-groups] tr");
    board.groups.forEach(function (group, index) {
      var cell = cells[index] && cells[index].querySelector("[data-wait]");
      if (!cell || !group.waiting) return;
      var seconds = waitedSeconds(group);
      cell.textContent = duration(seconds);
      cell.classList.toggle("is-late", seconds >= 120);
    });
  }, 1000);

  // --- The socket: the product's one client (static/js/socket.js), with a ticket -------------

  function showConnection(state, text) {
    var box = root.querySelector("[data-connection]");
    box.className = "connection connection--" + state;
    box.querySelector("[data-connection-text]").textContent = text;
  }

  function refresh() {
    return fetch(root.dataset.api, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401 || response.status === 403) {
          window.location.reload(); // signed out or no longer allowed: the page says why
          return null;
        }
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (data) draw(data);
      })
      .catch(function () {});
  }

  function askTicket() {
    var csrf = root.querySelector("input[name=csrfmiddlewaretoken]");
    return fetch(root.dataset.wsTicketUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrf ? csrf.value : "" },
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

  var socket = window.HelpdeskSocket.create({
    path: root.dataset.wsPath,
    authQuery: window.HelpdeskSocket.ticketQuery(askTicket),
    onState: function (state) {
      if (state === "connected") showConnection("connected", msg("live"));
      else if (state === "connecting") showConnection("connecting", msg("connecting"));
      else if (state === "unauthorized") window.location.reload();
      else showConnection("lost", msg("reconnecting"));
    },
    // Each (re)connection reads the board once: the newest board is all that matters.
    onHello: refresh,
    onResync: refresh,
    onEvent: function (type, data) {
      if (type === "monitor.updated") draw(data);
    },
  });

  draw(JSON.parse(document.getElementById("board-data").textContent));
  socket.start();
})();
