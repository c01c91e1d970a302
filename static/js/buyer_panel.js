/* The agent's buyer panel beside the chat (SPEC E3-E5), order notes (E4), cards in the chat (E4,
 * E5, I1) and writing internal notes (I3), over window.Workbench (static/js/workbench.js) and
 * window.ChatCards (static/js/widget_cards.js, loaded before this file).
 *
 * The panel reads GET conversations/{id}/buyer/ each time a chat opens. Whoever may handle orders
 * (the main account, handle_orders) edits an order's note inline; a draft (text and flag) is kept
 * per order until the server takes it, so neither an error nor a reload loses what was typed.
 * Every value from the server is set with textContent. Strings come translated from the panel's
 * data-msg-* attributes. No dependencies. */
(function () {
  "use strict";

  var W = window.Workbench;
  var C = window.ChatCards;
  var root = document.querySelector("[data-buyer-panel]");
  if (!W || !C || !root) return;

  var NOTE_MAX = 60; // SPEC E4
  var VISITS_HIGH = 2; // SPEC E3: highlighted above 2
  var FLAGS = ["grey", "red", "yellow", "green", "blue", "purple"];

  var body = root.querySelector("[data-buyer-panel-body]");
  var status = root.querySelector("[data-buyer-panel-status]");
  var refresh = root.querySelector("[data-buyer-panel-refresh]");
  var toggle = document.querySelector("[data-buyer-toggle]");
  var ordersUrl = root.dataset.ordersUrl || "/api/v1/orders/";
  var canOrders = root.dataset.canHandleOrders === "1";
  var canAfterSales = root.dataset.canHandleAfterSales === "1";
  var entranceLabels = {};
  try {
    entranceLabels = JSON.parse(document.getElementById("entrance-labels").textContent) || {};
  } catch (error) {
    entranceLabels = {};
  }

  var current = null; // the open conversation's id
  var generation = 0; // answers of an older load are dropped
  var drafts = {}; // order external id -> {text, flag}: what the agent typed and did not save
  var uid = 0;
  var heldAtRender = false; // whether the send buttons were drawn

  function msg(name) {
    return root.getAttribute("data-msg-" + name) || W.msg(name);
  }

  var el = C.el;

  var firstError = W.firstError;

  function setStatus(text, isError) {
    status.textContent = text || "";
    status.hidden = !text;
    status.className = "buyer-panel__status" + (isError ? " is-error" : "");
  }

  /** Is the open conversation this agent's (who sends cards into it)? */
  function holding() {
    var conv = current && W.conversation(current);
    return Boolean(conv && conv.agent === W.me && conv.state !== "closed");
  }

  function nextId(prefix) {
    uid += 1;
    return prefix + "-" + uid;
  }

  function flagDot(flag) {
    var dot = el("span", "flag-dot flag-dot--" + (flag || "grey"));
    dot.setAttribute("aria-hidden", "true");
    return dot;
  }

  function section(title, className) {
    var box = el("section", "buyer-panel__section " + (className || ""));
    box.appendChild(el("h3", "buyer-panel__heading", title));
    return box;
  }

  // --- Loading --------------------------------------------------------------------------------

  function load(id) {
    current = id;
    generation += 1;
    var mine = generation;
    root.hidden = false;
    body.setAttribute("aria-busy", "true");
    setStatus(msg("panel-loading"));
    W.api("GET", W.conversationsUrl + id + "/buyer/").then(
      function (r) {
        if (mine !== generation) return;
        body.removeAttribute("aria-busy");
        if (!r.ok) {
          body.textContent = "";
          setStatus(msg("panel-failed") + " " + (firstError(r.data) || r.status), true);
          return;
        }
        setStatus("");
        render(r.data);
      },
      function () {
        if (mine !== generation) return;
        body.removeAttribute("aria-busy");
        setStatus(msg("network"), true);
      }
    );
  }

  // --- Rendering --------------------------------------------------------------------------------

  function render(panel) {
    heldAtRender = holding();
    body.textContent = "";
    body.appendChild(buyerSection(panel));
    var orders = (panel.recent_orders || []).slice();
    if (panel.order) {
      var known = orders.some(function (o) {
        return o.external_id === panel.order.external_id;
      });
      if (!known) orders.unshift(panel.order); // the entrance's order, even if older
    }
    body.appendChild(ordersSection(panel, orders));
    body.appendChild(afterSalesSection(panel.after_sales || []));
    // Other modules show their part of the panel (buyer_block.js: SPEC I6's block).
    root.dispatchEvent(
      new CustomEvent("buyer-panel:rendered", {
        detail: { panel: panel, conversation: current, reload: function () { load(current); } },
      })
    );
  }

  function buyerSection(panel) {
    var buyer = panel.buyer || {};
    var box = el("section", "buyer-panel__section buyer-panel__who");
    box.appendChild(el("p", "buyer-panel__name", buyer.name || buyer.external_id || "?"));
    if (buyer.name) box.appendChild(el("p", "buyer-panel__id", buyer.external_id));
    if (buyer.segments && buyer.segments.length) {
      var chips = el("ul", "buyer-panel__segments");
      chips.setAttribute("aria-label", msg("segments"));
      buyer.segments.forEach(function (segment) {
        chips.appendChild(el("li", "chip", segment));
      });
      box.appendChild(chips);
    }
    var facts = el("dl", "facts buyer-panel__facts");
    function fact(term, value, className, title) {
      var row = el("div", className || "");
      row.appendChild(el("dt", "", term));
      var dd = el("dd", "", value);
      if (title) dd.title = title;
      row.appendChild(dd);
      facts.appendChild(row);
      return row;
    }
    fact(msg("channel"), buyer.channel || msg("none"));
    var entrance = panel.entrance ? entranceLabels[panel.entrance] || panel.entrance : msg("none");
    if (panel.product) entrance += " · " + (panel.product.name || panel.product.external_id);
    if (panel.order) entrance += " · " + C.fill(msg("card-order"), { number: panel.order.external_id });
    fact(msg("entrance"), entrance, "buyer-panel__entrance");
    fact(msg("paid-orders"), String(panel.paid_orders), "buyer-panel__paid");
    var high = panel.visits_72h > VISITS_HIGH;
    var visits = fact(
      msg("visits"),
      String(panel.visits_72h),
      "buyer-panel__visits" + (high ? " is-high" : ""),
      high ? msg("visits-high") : ""
    );
    visits.dataset.visits = String(panel.visits_72h);
    box.appendChild(facts);
    return box;
  }

  function ordersSection(panel, orders) {
    var days = panel.recent_orders_days;
    var title = days ? C.fill(msg("recent-orders"), { days: days }) : msg("all-orders");
    var box = section(title, "buyer-panel__orders");
    if (!orders.length) {
      box.appendChild(el("p", "buyer-panel__empty", msg("no-orders")));
      return box;
    }
    var list = el("ul", "buyer-panel__list");
    orders.forEach(function (order) {
      list.appendChild(orderItem(order));
    });
    box.appendChild(list);
    return box;
  }

  function afterSalesSection(rows) {
    var box = section(msg("after-sales"), "buyer-panel__after-sales");
    if (!rows.length) {
      box.appendChild(el("p", "buyer-panel__empty", msg("no-after-sales")));
      return box;
    }
    var list = el("ul", "buyer-panel__list");
    rows.forEach(function (row) {
      var item = el("li", "panel-after-sale");
      item.dataset.afterSale = row.external_id;
      item.appendChild(C.afterSaleCard(row, msg, true));
      if (canAfterSales && holding()) {
        item.appendChild(sendButton("after_sale_card", row.external_id));
      }
      list.appendChild(item);
    });
    box.appendChild(list);
    return box;
  }

  // --- An order: its card, its note, the note's history, send to chat (E4) --------------------

  function orderItem(order) {
    var item = el("li", "panel-order");
    item.dataset.order = order.external_id;
    item.appendChild(C.orderCard(order, msg));
    var note = el("div", "order-note");
    item.appendChild(note);
    showNote(note, order.note);
    var actions = el("div", "panel-order__actions");
    item.appendChild(actions);
    if (canOrders) {
      var form = noteForm(order, note, item);
      var edit = el("button", "button button--small", msg("edit-note"));
      edit.type = "button";
      edit.setAttribute("aria-expanded", "false");
      edit.addEventListener("click", function () {
        openForm(form, edit, !form.hidden ? false : true);
      });
      actions.appendChild(edit);
      item.appendChild(form);
      form.editButton = edit;
      if (drafts[order.external_id]) openForm(form, edit, true);
    }
    if (holding()) actions.appendChild(sendButton("order_card", order.external_id));
    item.appendChild(historyBox(order, item));
    return item;
  }

  function openForm(form, button, open) {
    form.hidden = !open;
    button.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) form.querySelector("input[type=text]").focus();
  }

  function showNote(box, note) {
    box.textContent = "";
    box.className = "order-note" + (note ? " order-note--" + note.flag : " order-note--empty");
    if (!note) {
      box.appendChild(el("span", "order-note__empty", msg("no-note")));
      return;
    }
    box.appendChild(flagDot(note.flag));
    var text = el("span", "order-note__text", note.text);
    box.appendChild(text);
    box.title = C.label(msg, "flag-", note.flag);
    box.dataset.flag = note.flag;
  }

  function counterText(length) {
    return C.fill(msg("note-counter"), { count: length, max: NOTE_MAX });
  }

  function noteForm(order, noteBox, item) {
    var id = nextId("order-note");
    var form = el("form", "note-edit");
    form.hidden = true;
    form.noValidate = true;
    var current = order.note || { text: "", flag: "grey" };
    var draft = drafts[order.external_id] || { text: current.text, flag: current.flag };

    var label = el("label", "", msg("note-label"));
    label.htmlFor = id;
    form.appendChild(label);
    var row = el("div", "note-edit__row");
    var input = el("input", "note-edit__text");
    input.type = "text";
    input.id = id;
    input.name = "text";
    input.autocomplete = "off";
    input.value = draft.text;
    var counter = el("span", "note-edit__counter");
    counter.id = id + "-counter";
    counter.setAttribute("aria-live", "polite");
    var feedback = el("p", "form-feedback note-edit__feedback");
    feedback.id = id + "-feedback";
    feedback.setAttribute("role", "alert");
    feedback.hidden = true;
    input.setAttribute("aria-describedby", counter.id + " " + feedback.id);
    row.appendChild(input);
    row.appendChild(counter);
    form.appendChild(row);

    var flags = el("fieldset", "flag-picker");
    flags.appendChild(el("legend", "", msg("flag")));
    FLAGS.forEach(function (flag) {
      var option = el("label", "flag-picker__option");
      var radio = el("input", "");
      radio.type = "radio";
      radio.name = id + "-flag";
      radio.value = flag;
      radio.checked = flag === draft.flag;
      option.appendChild(radio);
      option.appendChild(flagDot(flag));
      option.appendChild(el("span", "flag-picker__label", C.label(msg, "flag-", flag)));
      option.title = C.label(msg, "flag-", flag);
      flags.appendChild(option);
    });
    form.appendChild(flags);
    var save = el("button", "button button--primary button--small", msg("save-note"));
    save.type = "submit";
    form.appendChild(save);
    form.appendChild(feedback);

    function chosenFlag() {
      var checked = flags.querySelector("input:checked");
      return checked ? checked.value : "grey";
    }

    function keepDraft() {
      drafts[order.external_id] = { text: input.value, flag: chosenFlag() };
    }

    function count() {
      var length = Array.from(input.value).length;
      counter.textContent = counterText(length);
      var over = length > NOTE_MAX;
      counter.classList.toggle("is-over", over);
      input.setAttribute("aria-invalid", over ? "true" : "false");
    }

    function say(text, ok) {
      feedback.textContent = text;
      feedback.hidden = !text;
      feedback.className = "form-feedback note-edit__feedback " + (ok ? "is-ok" : "is-error");
    }

    input.addEventListener("input", function () {
      count();
      keepDraft();
    });
    flags.addEventListener("change", keepDraft);
    count();

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value;
      var flag = chosenFlag();
      keepDraft();
      save.disabled = true;
      say("");
      // The server decides (60 characters, SPEC E4): its refusal is shown beside the field and
      // the typed text stays in it.
      W.api("POST", ordersUrl + encodeURIComponent(order.external_id) + "/notes/", {
        text: text,
        flag: flag,
      }).then(
        function (r) {
          save.disabled = false;
          if (!r.ok) {
            input.setAttribute("aria-invalid", "true");
            say(msg("note-failed") + " " + (firstError(r.data) || r.status), false);
            return;
          }
          delete drafts[order.external_id];
          order.note = r.data;
          showNote(noteBox, r.data);
          say(msg("note-saved"), true);
          var history = item.querySelector("details.note-history");
          if (history && history.open) loadHistory(order, history);
        },
        function () {
          save.disabled = false;
          say(msg("network"), false);
        }
      );
    });
    return form;
  }

  function historyBox(order, item) {
    var details = el("details", "note-history");
    details.appendChild(el("summary", "", msg("history")));
    details.appendChild(el("ol", "note-history__list"));
    details.addEventListener("toggle", function () {
      if (details.open) loadHistory(order, details);
    });
    return details;
  }

  function loadHistory(order, details) {
    var list = details.querySelector("ol");
    list.setAttribute("aria-busy", "true");
    W.api("GET", ordersUrl + encodeURIComponent(order.external_id) + "/notes/").then(
      function (r) {
        list.removeAttribute("aria-busy");
        list.textContent = "";
        if (!r.ok) {
          list.appendChild(el("li", "is-error", msg("history-failed")));
          return;
        }
        var rows = Array.isArray(r.data) ? r.data : (r.data && r.data.results) || [];
        if (!rows.length) list.appendChild(el("li", "note-history__empty", msg("no-history")));
        rows.forEach(function (note) {
          var line = el("li", "note-history__item");
          line.dataset.flag = note.flag;
          line.appendChild(flagDot(note.flag));
          line.appendChild(el("span", "note-history__text", note.text));
          var meta = el(
            "span",
            "note-history__meta",
            C.fill(msg("note-by"), {
              author: note.author_name || msg("someone"),
              time: C.when(note.created_at),
            })
          );
          line.appendChild(meta);
          list.appendChild(line);
        });
      },
      function () {
        list.removeAttribute("aria-busy");
        list.textContent = "";
        list.appendChild(el("li", "is-error", msg("network")));
      }
    );
  }

  // --- Send a card into the chat (E4, E5: the conversation's agent) ----------------------------

  function sendButton(kind, ref) {
    var wrap = el("span", "send-card");
    var button = el("button", "button button--small send-card__button", msg("send-card"));
    button.type = "button";
    button.dataset.sendCard = kind;
    var feedback = el("span", "send-card__feedback");
    feedback.setAttribute("role", "status");
    button.addEventListener("click", function () {
      var id = current;
      button.disabled = true;
      feedback.textContent = "";
      feedback.className = "send-card__feedback";
      W.api("POST", W.conversationsUrl + id + "/cards/", { kind: kind, ref: ref }).then(
        function (r) {
          button.disabled = false;
          if (r.ok) {
            feedback.textContent = msg("card-sent");
            return;
          }
          feedback.className = "send-card__feedback is-error";
          feedback.textContent = msg("send-failed") + " " + (firstError(r.data) || r.status);
        },
        function () {
          button.disabled = false;
          feedback.className = "send-card__feedback is-error";
          feedback.textContent = msg("network");
        }
      );
    });
    wrap.appendChild(button);
    wrap.appendChild(feedback);
    return wrap;
  }

  // --- The panel on a phone: behind the "Buyer" toggle ----------------------------------------

  function setOpen(open) {
    root.classList.toggle("is-open", open);
    if (toggle) toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }

  if (toggle) {
    toggle.addEventListener("click", function () {
      var open = !root.classList.contains("is-open");
      setOpen(open);
      if (open) root.scrollIntoView({ block: "start", behavior: "smooth" });
    });
  }
  if (refresh) {
    refresh.addEventListener("click", function () {
      if (current) load(current);
    });
  }

  // --- Internal notes (SPEC I3): a note for staff only -----------------------------------------

  var noteForm2 = document.querySelector("[data-note-form]");
  if (noteForm2) {
    var noteInput = noteForm2.querySelector("textarea");
    var noteFeedback = noteForm2.querySelector("[data-note-feedback]");
    var noteButton = noteForm2.querySelector("button[type=submit]");
    var noteSay = function (text, ok) {
      noteFeedback.textContent = text;
      noteFeedback.hidden = !text;
      noteFeedback.className = "form-feedback " + (ok ? "is-ok" : "is-error");
    };
    noteForm2.addEventListener("submit", function (event) {
      event.preventDefault();
      var id = W.openId();
      var text = noteInput.value;
      if (!id || !text.trim()) {
        noteInput.focus();
        return;
      }
      noteButton.disabled = true;
      noteSay("");
      W.api("POST", W.conversationsUrl + id + "/notes/", { body: text }).then(
        function (r) {
          noteButton.disabled = false;
          if (!r.ok) {
            noteSay(msg("internal-note-failed") + " " + (firstError(r.data) || r.status), false);
            return;
          }
          noteInput.value = "";
          noteSay(msg("internal-note-added"), true);
          if (W.addNote) W.addNote(id, r.data);
        },
        function () {
          noteButton.disabled = false;
          noteSay(msg("network"), false);
        }
      );
    });
  }

  // --- Hooks -------------------------------------------------------------------------------------

  W.on("open", function (detail) {
    if (noteForm2 && detail.id !== current) {
      noteForm2.querySelector("[data-note-feedback]").hidden = true;
    }
    load(detail.id);
  });

  W.on("bubble", function (detail) {
    C.intoBubble(detail.item, detail.message, msg);
  });

  // A conversation taken over or handed to this agent: the send buttons follow who holds it.
  W.on("event", function (detail) {
    var data = detail.data || {};
    if (!current || data.id !== current || !/^conversation\./.test(detail.type)) return;
    // (after the workbench took the event in: its copy of the conversation is the new one)
    window.setTimeout(function () {
      if (data.id === current && holding() !== heldAtRender) load(current);
    }, 0);
  });
})();
