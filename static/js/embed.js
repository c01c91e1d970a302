/* The shop helpdesk widget on a shop's own page (SPEC F1, H3), one line:
 *
 *   <script src="https://HELPDESK/static/js/embed.js" data-shop="SHOP" data-entrance="product"
 *           data-product="P" data-order="O" data-buyer-id="ID" data-signature="HMAC" async></script>
 *
 * A launcher button opens the widget (/widget/SHOP/) in an iframe; the page's origin must be one
 * of the shop's widget origins, else the browser refuses to frame it. The signed buyer id (the
 * shop's server computes the signature with its widget secret) travels in the URL's fragment.
 * Optional: data-name, data-label and data-close-label (the button's texts), data-title (the
 * frame's title), data-product-name (the entrance product's name, shown on the widget's product
 * card), data-unread-label (the badge's spoken text, "{count}" in it).
 * SPEC I2: while the widget is closed (or the page's tab hidden), agent messages raise an unread
 * count that the widget posts here ({type: "helpdesk:unread", count}); it shows as a badge on the
 * launcher, reset when the buyer opens the widget. The launcher takes the shop's colour, corner and title from its widget display
 * settings (GET /api/v1/widget/appearance/SHOP/), which the shop changes in its admin pages.
 * No dependencies. */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || !script.dataset.shop) return;
  var data = script.dataset;
  var base = new URL(script.src, window.location.href).origin;

  var query = new URLSearchParams();
  ["entrance", "product", "order"].forEach(function (key) {
    if (data[key]) query.set(key, data[key]);
  });
  if (data.product && data.productName) query.set("product_name", data.productName);
  var fragment = new URLSearchParams();
  if (data.buyerId) fragment.set("buyer_id", data.buyerId);
  if (data.signature) fragment.set("signature", data.signature);
  if (data.name) fragment.set("name", data.name);
  var src = base + "/widget/" + encodeURIComponent(data.shop) + "/?" + query.toString();
  if (fragment.toString()) src += "#" + fragment.toString();

  var chinese = document.documentElement.lang.indexOf("zh") === 0;
  var label = data.label || (chinese ? "联系客服" : "Chat with us");
  var closeLabel = data.closeLabel || (chinese ? "关闭" : "Close");
  var unreadLabel = data.unreadLabel || (chinese ? "{count} 条未读消息" : "{count} unread");
  var button = document.createElement("button");
  button.type = "button";
  button.textContent = label;
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("data-helpdesk-launcher", "");
  button.style.cssText =
    "position:fixed;right:16px;bottom:16px;z-index:2147483647;padding:12px 18px;border:0;" +
    "border-radius:999px;background:#1f5fbf;color:#fff;font:600 15px system-ui,sans-serif;" +
    "box-shadow:0 2px 8px rgba(0,0,0,.25);cursor:pointer";

  var side = "right";
  function place() {
    button.style.left = side === "left" ? "16px" : "auto";
    button.style.right = side === "left" ? "auto" : "16px";
    if (frame && !window.matchMedia("(max-width: 480px)").matches) {
      frame.style.left = side === "left" ? "16px" : "auto";
      frame.style.right = side === "left" ? "auto" : "16px";
    }
  }
  if (window.fetch) {
    fetch(base + "/api/v1/widget/appearance/" + encodeURIComponent(data.shop) + "/", {
      credentials: "omit",
    })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (look) {
        if (!look) return;
        if (/^#[0-9a-fA-F]{6}$/.test(look.color || "")) button.style.background = look.color;
        side = look.position === "left" ? "left" : "right";
        if (!data.title && look.title) title = look.title;
        if (frame) frame.title = title;
        place();
      })
      .catch(function () {}); // the defaults stay
  }

  // SPEC I2: the unread badge, inside the launcher after its text.
  var unread = 0;
  var badge = document.createElement("span");
  badge.setAttribute("data-helpdesk-unread", "");
  badge.style.cssText =
    "display:inline-block;min-width:20px;margin-left:8px;padding:0 6px;border-radius:999px;" +
    "background:#d92d20;color:#fff;font:700 12px/20px system-ui,sans-serif;text-align:center";
  function setLabel(text) {
    button.textContent = text;
    if (unread > 0) {
      badge.textContent = unread > 99 ? "99+" : String(unread);
      badge.title = unreadLabel.replace("{count}", String(unread));
      badge.setAttribute("aria-label", badge.title);
      button.appendChild(badge);
    }
  }
  function setUnread(count) {
    unread = count;
    setLabel(frame && !frame.hidden ? closeLabel : label);
  }
  function tell() {
    // The widget learns whether the buyer sees it (and this page's origin, from the message).
    if (frame && frame.contentWindow) {
      frame.contentWindow.postMessage({ type: "helpdesk:visibility", open: !frame.hidden }, base);
    }
  }
  window.addEventListener("message", function (event) {
    if (!frame || event.source !== frame.contentWindow || event.origin !== base) return;
    var message = event.data;
    if (!message || message.type !== "helpdesk:unread") return;
    var count = Math.floor(Number(message.count));
    if (!isFinite(count) || count < 0) return;
    if (count > 0 && !frame.hidden && document.visibilityState !== "hidden") count = 0;
    setUnread(count);
  });
  document.addEventListener("visibilitychange", tell);

  var title = data.title || label;
  var frame = null;
  function open() {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.src = src;
      frame.title = title;
      frame.setAttribute("data-helpdesk-widget", "");
      frame.allow = "clipboard-write";
      var small = window.matchMedia("(max-width: 480px)").matches;
      frame.style.cssText =
        "position:fixed;z-index:2147483646;border:0;background:#fff;" +
        (small
          ? "inset:0;width:100%;height:calc(100% - 72px)"
          : "right:16px;bottom:76px;width:380px;height:600px;max-height:calc(100vh - 96px);" +
            "border-radius:12px;box-shadow:0 4px 24px rgba(0,0,0,.25)");
      frame.addEventListener("load", tell);
      document.body.appendChild(frame);
      place();
    }
    frame.hidden = false;
    unread = 0;
    setLabel(closeLabel);
    button.setAttribute("aria-expanded", "true");
    tell();
  }
  function close() {
    if (frame) frame.hidden = true;
    setLabel(label);
    button.setAttribute("aria-expanded", "false");
    tell();
  }
  button.addEventListener("click", function () {
    if (frame && !frame.hidden) close();
    else open();
  });

  function mount() {
    document.body.appendChild(button);
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
