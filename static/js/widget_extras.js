/* Additions to the buyer widget (static/js/widget.js, through window.WidgetChat):
 *  - seed 002, "choose your question": the shop's intents as buttons before the human button
 *    (GET /widget/intents/); choosing one asks for a human with that intent;
 *  - seed 004: while with the assistant or queued, a line tells that the shop queues when busy;
 *  - SPEC I1: the product of the page the buyer came from, as a small card at the top;
 *  - SPEC I2: framed by static/js/embed.js, agent messages that arrive while the widget is closed
 *    or the tab hidden raise an unread count, posted to the parent page (only the count).
 * Strings come translated from this script tag's data-msg-* attributes; data is set with
 * textContent, never innerHTML. No dependencies. */
(function () {
  "use strict";

  var chat = window.WidgetChat;
  var root = document.querySelector("[data-widget]");
  var tag = document.querySelector("script[data-widget-extras]");
  if (!chat || !root || !tag) return;

  function msg(name) {
    return tag.getAttribute("data-msg-" + name) || "";
  }

  var askHuman = root.querySelector("[data-ask-human]");
  var refresh = root.querySelector("[data-refresh]");
  var feedback = root.querySelector("[data-feedback]");
  var menu = root.querySelector("[data-intent-menu]");
  var list = root.querySelector("[data-intent-list]");
  var queueLine = root.querySelector("[data-queue-mode]");
  var productCard = root.querySelector("[data-entrance-product]");

  var intents = []; // the shop's intent names, when its menu is on
  var menuEnabled = false;
  var queueMode = null; // "off" | "shop" | "groups", once known
  var choosing = false;

  function say(text) {
    if (!feedback) return;
    feedback.textContent = text;
    feedback.hidden = !text;
  }

  // --- Where the buyer stands: widget.js shows the human button only with the assistant, the
  // refresh button only while queued; those are the states this module follows. ---------------

  function withAssistant() {
    return !!askHuman && !askHuman.hidden;
  }

  function queued() {
    var c = chat.conversation();
    return (!!refresh && !refresh.hidden) || !!(c && c.state === "queued");
  }

  function update() {
    var assistant = withAssistant();
    if (menu) menu.hidden = !(assistant && menuEnabled && intents.length > 0);
    if (queueLine) {
      var text = queueMode === "shop" || queueMode === "groups" ? msg("queue-mode-" + queueMode) : "";
      queueLine.textContent = text;
      queueLine.hidden = !text || !(assistant || queued());
    }
    showProduct();
  }

  if (window.MutationObserver) {
    var observer = new MutationObserver(update);
    [askHuman, refresh].forEach(function (node) {
      if (node) observer.observe(node, { attributes: true, attributeFilter: ["hidden"] });
    });
  }
  chat.on("event", function (e) {
    if (e.type === "conversation.updated" || e.type === "conversation.closed") {
      window.setTimeout(update, 0); // after widget.js drew the new state
    }
  });

  // --- Seed 002: the question menu --------------------------------------------------------------

  function drawMenu() {
    while (list.firstChild) list.removeChild(list.firstChild);
    var prompt = root.querySelector("[data-intent-prompt]");
    if (prompt) prompt.textContent = msg("intent-prompt");
    intents.forEach(function (name) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button button--small widget-intents__choice";
      button.textContent = name;
      button.dataset.intent = name;
      button.addEventListener("click", function () {
        choose(name);
      });
      list.appendChild(button);
    });
  }

  function setBusy(busy) {
    choosing = busy;
    Array.prototype.forEach.call(list.querySelectorAll("button"), function (b) {
      b.disabled = busy;
    });
    if (askHuman) askHuman.disabled = busy;
  }

  function choose(name) {
    if (choosing) return;
    setBusy(true);
    say("");
    chat.api("POST", "conversation/", { human: true, intent: name }).then(
      function (r) {
        setBusy(false);
        if (!r.ok) {
          var d = r.data || {};
          var first = d.detail;
          if (!first && d.errors) {
            for (var field in d.errors) {
              if (d.errors[field] && d.errors[field].length) {
                first = d.errors[field][0];
                break;
              }
            }
          }
          say(first ? String(first) : root.getAttribute("data-msg-error") || "");
          return;
        }
        // widget.js reads the conversation again (its refresh), and draws the new state.
        if (refresh) refresh.click();
        update();
      },
      function () {
        setBusy(false);
        say(root.getAttribute("data-msg-error") || "");
      }
    );
  }

  function loadIntents() {
    chat.api("GET", "intents/").then(function (r) {
      if (!r.ok || !r.data) return;
      menuEnabled = !!r.data.enabled;
      queueMode = r.data.queue_mode || null;
      intents = (r.data.results || [])
        .map(function (i) {
          return i && i.name ? String(i.name) : "";
        })
        .filter(Boolean);
      if (menu && list) drawMenu();
      update();
    });
  }

  // The intents need the buyer's token, which widget.js gets from its session first.
  (function waitForToken(tries) {
    if (chat.token()) loadIntents();
    else if (tries < 300) window.setTimeout(waitForToken, 100, tries + 1);
  })(0);

  // --- SPEC I1: the entrance product --------------------------------------------------------------

  var query = new URLSearchParams(window.location.search);

  function showProduct() {
    if (!productCard) return;
    var c = chat.conversation();
    var id = root.dataset.product || (c && c.product) || "";
    if (!id) return;
    // Its name when the shop's page gave one (embed.js's data-product-name), else its id.
    var name = (query.get("product") === id && query.get("product_name")) || id;
    var label = productCard.querySelector("[data-entrance-product-label]");
    var shown = productCard.querySelector("[data-entrance-product-name]");
    if (label) label.textContent = msg("product");
    if (shown && shown.textContent !== name) shown.textContent = name;
    productCard.dataset.product = id;
    productCard.hidden = false;
  }

  // --- SPEC I2: the unread count for embed.js's launcher ---------------------------------------

  var framed = window.parent && window.parent !== window;
  var parentOrigin = null; // as embed.js's first message tells it
  var frameOpen = true; // embed.js says when the buyer closes or opens the widget
  var unread = 0;
  var UNREAD = "helpdesk:unread";
  var VISIBILITY = "helpdesk:visibility";

  function away() {
    return !frameOpen || document.visibilityState === "hidden";
  }

  function post() {
    if (!framed) return;
    try {
      window.parent.postMessage({ type: UNREAD, count: unread }, parentOrigin || "*");
    } catch (error) {
      // a parent of another origin than the one it told: nothing is sent
    }
  }

  if (framed) {
    window.addEventListener("message", function (event) {
      if (event.source !== window.parent) return;
      var data = event.data;
      if (!data || typeof data !== "object" || data.type !== VISIBILITY) return;
      parentOrigin = event.origin;
      frameOpen = !!data.open;
      if (!away() && unread) {
        unread = 0;
        post();
      }
    });
    document.addEventListener("visibilitychange", function () {
      if (!away() && unread) {
        unread = 0;
        post();
      }
    });
    chat.on("event", function (e) {
      if (e.type !== "message.created" || !e.data || e.data.sender !== "agent") return;
      if (!away()) return;
      unread += 1;
      post();
    });
  }

  update();
})();
