/* Agent alerts (SPEC I4): while the workbench's tab is in the background, a new conversation
 * assigned to this agent or a new buyer message in one of its conversations rings a short beep
 * (Web Audio, no file), shows a desktop notification and counts in the tab title ("(3) …").
 * Each of the three is switched by the agent and remembered in this browser (localStorage); the
 * browser's permission for notifications is asked only when the agent turns them on, never on
 * load. The title's count goes when the tab is visible again. Loaded after workbench.js, from
 * whose "event" hook it learns what happened. No dependencies; strings from data-msg-*. */
(function () {
  "use strict";

  var wb = window.Workbench;
  var panel = document.querySelector("[data-alerts]");
  var extras = document.querySelector("[data-chat-extras]");
  if (!wb || !panel || !extras) return;

  var DEFAULTS = { sound: true, desktop: false, title: true };
  var BEEP_HZ = 880;
  var BEEP_SECONDS = 0.18;
  var feedback = panel.querySelector("[data-alerts-feedback]");
  var toggles = {};
  var baseTitle = document.title;
  var unread = 0;
  var audio = null; // the AudioContext, made on the agent's first gesture (autoplay rules)

  function msg(name) {
    return extras.getAttribute("data-msg-" + name) || wb.msg(name) || "";
  }

  function key(name) {
    return "helpdesk-alerts-" + wb.me + "-" + name;
  }

  function stored(name) {
    try {
      var value = window.localStorage.getItem(key(name));
      return value === null ? DEFAULTS[name] : value === "1";
    } catch (error) {
      return DEFAULTS[name];
    }
  }

  function store(name, on) {
    try {
      window.localStorage.setItem(key(name), on ? "1" : "0");
    } catch (error) {
      // storage denied: the choice lasts for this page only
    }
  }

  function say(text) {
    feedback.textContent = text;
    feedback.hidden = !text;
  }

  function enabled(name) {
    return toggles[name] && toggles[name].checked;
  }

  // --- Sound -----------------------------------------------------------------------------------

  function audioContext() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!audio && Context) {
      try {
        audio = new Context();
      } catch (error) {
        audio = null;
      }
    }
    return audio;
  }

  // A browser lets a page make sound only after a gesture on it: unlock on the first one.
  function unlock() {
    if (!enabled("sound")) return;
    var ctx = audioContext();
    if (ctx && ctx.state === "suspended") ctx.resume();
  }
  document.addEventListener("pointerdown", unlock, true);
  document.addEventListener("keydown", unlock, true);

  function beep() {
    var ctx = audioContext();
    if (!ctx) return;
    if (ctx.state === "suspended") ctx.resume();
    var now = ctx.currentTime;
    var oscillator = ctx.createOscillator();
    var gain = ctx.createGain();
    oscillator.type = "sine";
    oscillator.frequency.value = BEEP_HZ;
    gain.gain.setValueAtTime(0.0001, now);
    gain.gain.exponentialRampToValueAtTime(0.25, now + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + BEEP_SECONDS);
    oscillator.connect(gain);
    gain.connect(ctx.destination);
    oscillator.start(now);
    oscillator.stop(now + BEEP_SECONDS + 0.02);
    window.__helpdeskBeeps = (window.__helpdeskBeeps || 0) + 1; // for the browser tests
  }

  // --- Desktop notifications -------------------------------------------------------------------

  function notify(title, body, conversationId) {
    if (!("Notification" in window) || window.Notification.permission !== "granted") return;
    try {
      var note = new window.Notification(title, {
        body: body,
        tag: "helpdesk-" + conversationId,
      });
      note.onclick = function () {
        window.focus();
        var button = document.querySelector(
          '[data-conversation-list] button[data-id="' + conversationId + '"]'
        );
        if (button) button.click();
        note.close();
      };
    } catch (error) {
      // some mobile browsers only notify from a service worker: nothing more to do
    }
  }

  /** Asked only here, when the agent turns notifications on (never on load). */
  function askPermission(toggle) {
    if (!("Notification" in window)) {
      toggle.checked = false;
      say(msg("notify-unsupported"));
      return;
    }
    var settle = function (permission) {
      var granted = permission === "granted";
      toggle.checked = granted;
      store("desktop", granted);
      say(granted ? "" : msg("notify-blocked"));
    };
    if (window.Notification.permission !== "default") {
      settle(window.Notification.permission);
      return;
    }
    var asked = window.Notification.requestPermission(settle);
    if (asked && asked.then) asked.then(settle);
  }

  // --- Tab title -------------------------------------------------------------------------------

  function showCount() {
    document.title = unread ? "(" + unread + ") " + baseTitle : baseTitle;
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) return;
    unread = 0;
    showCount();
  });

  // --- Toggles ---------------------------------------------------------------------------------

  Array.prototype.forEach.call(panel.querySelectorAll("[data-alert-toggle]"), function (toggle) {
    var name = toggle.dataset.alertToggle;
    toggles[name] = toggle;
    toggle.checked = stored(name);
    if (name === "desktop" && toggle.checked) {
      // Remembered as on, yet the browser no longer allows it: show it off (asked on a click).
      var allowed = "Notification" in window && window.Notification.permission === "granted";
      toggle.checked = allowed;
    }
    toggle.addEventListener("change", function () {
      say("");
      if (name === "desktop" && toggle.checked) {
        askPermission(toggle);
        return;
      }
      store(name, toggle.checked);
      if (name === "sound" && toggle.checked) unlock();
      if (name === "title" && !toggle.checked) {
        unread = 0;
        showCount();
      }
    });
  });

  // --- What raises an alert --------------------------------------------------------------------

  function nameOf(data) {
    var buyer = data && data.buyer;
    return (buyer && (buyer.name || buyer.external_id)) || wb.msg("buyer");
  }

  function raise(title, body, conversationId) {
    if (!document.hidden) return;
    if (enabled("sound")) beep();
    if (enabled("desktop")) notify(title, body, conversationId);
    if (enabled("title")) {
      unread += 1;
      showCount();
    }
  }

  wb.on("event", function (detail) {
    var data = detail.data || {};
    var handedOver = detail.type === "conversation.assigned" || detail.type === "conversation.transferred";
    if (handedOver && data.agent === wb.me && data.state === "active") {
      raise(msg("new-conversation").replace("{name}", nameOf(data)), "", data.id);
    } else if (detail.type === "message.created" && data.sender === "buyer") {
      var conv = wb.conversation(data.conversation);
      if (!conv) return; // not one of this agent's conversations
      var body = data.kind === "image" ? msg("image") : data.body;
      raise(msg("new-message").replace("{name}", nameOf(conv)), body, data.conversation);
    }
  });
})();
