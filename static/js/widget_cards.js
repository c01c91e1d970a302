/* Cards in the chat (SPEC E4, E5, I1): order, after-sales and product cards drawn as cards rather
 * than their plain text. One renderer for both pages: the buyer widget (this file hooks into
 * window.WidgetChat when it is there) and the agent's workbench (static/js/buyer_panel.js calls
 * window.ChatCards with the workbench's strings). Every value from the server is set with
 * textContent. Strings come translated from data-msg-* attributes (on the widget: this script's
 * own tag, since the widget's template owns the rest). No dependencies. */
(function () {
  "use strict";

  var KINDS = { order_card: "order", after_sale_card: "after-sale", product_card: "product" };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  /** Money as the shop's systems send it, always with 2 decimals (SPEC E5). */
  function money(value) {
    if (value === null || value === undefined || value === "") return "";
    var number = Number(value);
    return isNaN(number) ? String(value) : number.toFixed(2);
  }

  function when(iso) {
    if (!iso) return "";
    var date = new Date(iso);
    if (isNaN(date.getTime())) return String(iso);
    var lang = document.documentElement.lang || undefined;
    try {
      return date.toLocaleString(lang, { dateStyle: "medium", timeStyle: "short" });
    } catch (error) {
      return date.toLocaleString();
    }
  }

  function fill(text, values) {
    return String(text).replace(/\{(\w+)\}/g, function (whole, key) {
      return values[key] === undefined ? whole : String(values[key]);
    });
  }

  /** A label from the strings, or the raw value when the page has no translation for it (the
   * shop's own texts, e.g. an after-sales status, are shown as sent). */
  function label(msg, prefix, value) {
    return (value && msg(prefix + value)) || value || "";
  }

  /** static/js/clipboard.js: the API where the page may use it, else execCommand. */
  function copyText(text) {
    return window.HelpdeskClipboard.copyText(text);
  }

  function facts(rows) {
    var list = el("dl", "chat-card__facts");
    rows.forEach(function (row) {
      if (!row || row[1] === "" || row[1] === null || row[1] === undefined) return;
      var item = el("div", row[2] || "");
      item.appendChild(el("dt", "", row[0]));
      var value = el("dd", "", row[1]);
      if (row[3]) value.title = row[1]; // a long text shows on one line, whole on hover (E5)
      item.appendChild(value);
      list.appendChild(item);
    });
    return list;
  }

  function items(msg, rows) {
    var list = el("ul", "chat-card__items");
    (rows || []).forEach(function (row) {
      var line = el("li", "");
      line.appendChild(el("span", "chat-card__item-name", row.name || row.product));
      var figures = "× " + (row.quantity || 1);
      if (row.price !== null && row.price !== undefined) figures += " · " + money(row.price);
      line.appendChild(el("span", "chat-card__item-figures", figures));
      list.appendChild(line);
    });
    list.setAttribute("aria-label", msg("card-items"));
    return list;
  }

  function head(kind, title, status, statusClass) {
    var top = el("div", "chat-card__head");
    top.appendChild(el("span", "chat-card__kind chat-card__kind--" + kind, title));
    if (status) top.appendChild(el("span", "chat-card__status " + (statusClass || ""), status));
    return top;
  }

  function link(msg, url) {
    // Only the shop's own pages, over http(s) (another engineer may add card.url).
    if (!url || !/^https?:\/\//i.test(String(url))) return null;
    var a = el("a", "chat-card__link", msg("card-details"));
    a.href = url;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  function orderCard(card, msg) {
    var box = el("div", "chat-card chat-card--order");
    box.appendChild(
      head(
        "order",
        fill(msg("card-order"), { number: card.external_id }),
        label(msg, "status-", card.status),
        "chat-card__status--" + card.status
      )
    );
    var amount = money(card.amount);
    if (Number(card.shipping_fee) > 0) {
      amount += " " + fill(msg("card-shipping"), { amount: money(card.shipping_fee) });
    }
    box.appendChild(
      facts([
        [msg("card-amount"), amount],
        [msg("card-paid-at"), when(card.paid_at)],
        [msg("card-created-at"), card.paid_at ? "" : when(card.created_at)],
      ])
    );
    if (card.items && card.items.length) box.appendChild(items(msg, card.items));
    // Seed 002: an order card sent with an after-sales record shows its status and progress.
    if (card.after_sale) {
      box.appendChild(
        el(
          "p",
          "chat-card__after-sale",
          fill(msg("card-after-sale-status"), {
            type: label(msg, "type-", card.after_sale.type),
            status: card.after_sale.status,
          })
        )
      );
    }
    var a = link(msg, card.url);
    if (a) box.appendChild(a);
    return box;
  }

  function goods(msg, received) {
    if (received === true) return msg("goods-received");
    if (received === false) return msg("goods-not-received");
    return "";
  }

  /** SPEC E5: every field of an after-sales record; ``full`` (the agent's panel) adds the
   * reason, description, merchant note and items, which the chat's card leaves out. */
  function afterSaleCard(card, msg, full) {
    var box = el("div", "chat-card chat-card--after-sale");
    box.appendChild(
      head(
        "after-sale",
        fill(msg("card-after-sale"), { type: label(msg, "type-", card.type) }),
        card.status,
        ""
      )
    );
    var amount = money(card.amount);
    if (card.shipping_included) amount += " " + msg("card-shipping-included");
    var rows = [
      [msg("card-number"), card.external_id],
      [msg("card-order-number"), card.order],
      [msg("card-refund-amount"), amount, "chat-card__money"],
      [msg("card-refund-method"), card.refund_method],
      [msg("card-applied-at"), when(card.applied_at)],
      [msg("card-goods"), goods(msg, card.goods_received)],
    ];
    if (full) {
      rows.push([msg("card-reason"), card.reason]);
      rows.push([msg("card-description"), card.description, "chat-card__long", true]);
      rows.push([msg("card-merchant-note"), card.merchant_note, "chat-card__long", true]);
    }
    rows.push([msg("card-return-tracking"), card.return_tracking]);
    box.appendChild(facts(rows));
    if (full && card.items && card.items.length) box.appendChild(items(msg, card.items));
    // The return address, once the shop approved a return (E5), with a copy button.
    if (card.return_address) {
      var address = el("div", "chat-card__address");
      address.appendChild(el("span", "chat-card__address-label", msg("card-return-address")));
      address.appendChild(el("p", "chat-card__address-text", card.return_address));
      var copy = el("button", "button button--small chat-card__copy", msg("copy"));
      copy.type = "button";
      var done = el("span", "chat-card__copied");
      done.setAttribute("role", "status");
      copy.addEventListener("click", function () {
        copyText(card.return_address).then(function (ok) {
          done.textContent = ok ? msg("copied") : msg("copy-failed");
        });
      });
      address.appendChild(copy);
      address.appendChild(done);
      box.appendChild(address);
    }
    var a = link(msg, card.url);
    if (a) box.appendChild(a);
    return box;
  }

  function productCard(card, msg) {
    var box = el("div", "chat-card chat-card--product");
    box.appendChild(head("product", msg("card-product"), "", ""));
    box.appendChild(el("p", "chat-card__title", card.name || card.external_id));
    box.appendChild(facts([[msg("card-category"), card.category]]));
    var a = link(msg, card.url);
    if (a) box.appendChild(a);
    return box;
  }

  /** The card of a message of a card kind, or null for any other message. */
  function render(message, msg, options) {
    var card = message && message.card;
    if (!card || !KINDS[message.kind]) return null;
    if (message.kind === "order_card") return orderCard(card, msg);
    if (message.kind === "after_sale_card") {
      return afterSaleCard(card, msg, Boolean(options && options.full));
    }
    return productCard(card, msg);
  }

  /** Fill a chat bubble with its card in place of the text (the text stays for readers). */
  function intoBubble(item, message, msg) {
    var card = render(message, msg);
    if (!card) return;
    var text = item.querySelector(":scope > p");
    if (text) {
      item.replaceChild(card, text);
    } else {
      item.appendChild(card);
    }
    card.setAttribute("aria-label", message.body || "");
    item.classList.add("bubble--card");
  }

  window.ChatCards = {
    render: render,
    orderCard: orderCard,
    afterSaleCard: afterSaleCard,
    intoBubble: intoBubble,
    money: money,
    when: when,
    fill: fill,
    label: label,
    copyText: copyText,
    el: el,
  };

  // The buyer widget: its cards, with the strings of this script's tag.
  if (window.WidgetChat) {
    var tag = document.querySelector("script[data-chat-cards]");
    // The cards' styles (static/css/buyer_panel.css), named by this script's tag.
    if (tag && tag.dataset.stylesheet && !document.querySelector("link[data-chat-cards]")) {
      var sheet = document.createElement("link");
      sheet.rel = "stylesheet";
      sheet.href = tag.dataset.stylesheet;
      sheet.setAttribute("data-chat-cards", "");
      document.head.appendChild(sheet);
    }
    var widgetMsg = function (name) {
      return (tag && tag.getAttribute("data-msg-" + name)) || window.WidgetChat.msg(name);
    };
    window.WidgetChat.on("bubble", function (detail) {
      intoBubble(detail.item, detail.message, widgetMsg);
    });
  }
})();
