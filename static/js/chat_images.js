/* Images and recall in the chat (SPEC I1), and the widget's unread count (I2), for both pages:
 * the agent's workbench (window.Workbench, static/js/workbench.js) and the buyer's widget
 * (window.WidgetChat, static/js/widget.js). Loaded after them; it draws through their "bubble"
 * hook, so history, live messages and message.updated redraws all look the same.
 *
 * Images: a file picker for JPEG, PNG and WebP, checked against the page's limit before any
 * upload (the server checks again and its message is shown on refusal); image messages show
 * their thumbnail, which opens the full image. Staff read the files with their session (a plain
 * <img src>); the buyer's files need its Authorization header, so the widget fetches them into
 * blob: URLs, revoked as soon as their bubble leaves the page.
 * Recall: one's own message shows "Recall" for its first 2 minutes; a recalled message (here or
 * from the other side's message.updated, or in the history) shows "Message recalled".
 * No dependencies; strings come translated from the [data-chat-extras] element's data-msg-*. */
(function () {
  "use strict";

  var extras = document.querySelector("[data-chat-extras]");
  var host = window.Workbench || window.WidgetChat;
  if (!extras || !host) return;
  var staff = !!window.Workbench; // else the buyer's widget

  var TYPES = ["image/jpeg", "image/png", "image/webp"];
  var RECALL_WINDOW_MS = 2 * 60 * 1000; // I1: within 2 minutes of sending
  var THUMBNAIL_BOX = 220; // CSS pixels a thumbnail takes at most on a side
  var FINISH_PENDING_MS = 1500; // the socket's message.created normally replaces a pending image
  var maxBytes = parseInt(extras.dataset.imageMaxBytes, 10) || 10 * 1024 * 1024;

  var root = document.querySelector(staff ? "[data-workbench]" : "[data-widget]");
  var list = root.querySelector(staff ? "[data-chat-messages]" : "[data-messages]");
  var feedbackNode = root.querySelector(staff ? "[data-chat-feedback]" : "[data-feedback]");
  var composer = root.querySelector("[data-composer]");
  var textInput = composer.querySelector(staff ? "textarea" : "input[name=body]");
  var attach = composer.querySelector("[data-image-attach]");
  var picker = composer.querySelector("[data-image-input]");
  var csrfInput = root.querySelector("input[name=csrfmiddlewaretoken]");

  function msg(name) {
    return extras.getAttribute("data-msg-" + name) || host.msg(name) || "";
  }

  var el = host.el; // the page's own helpers

  function say(text) {
    feedbackNode.textContent = text;
    feedbackNode.hidden = !text;
  }

  var firstError = host.firstError;

  /** A request as this side authenticates: the session and CSRF token, or the buyer token. */
  function request(method, url, body) {
    var headers = { Accept: "application/json" };
    var options = { method: method, headers: headers, body: body };
    if (staff) {
      options.credentials = "same-origin";
      if (csrfInput) headers["X-CSRFToken"] = csrfInput.value;
    } else {
      options.credentials = "omit";
      headers.Authorization = "Buyer " + host.token();
    }
    return fetch(url, options);
  }

  function answer(response) {
    return response
      .json()
      .catch(function () {
        return null;
      })
      .then(function (data) {
        return { ok: response.ok, status: response.status, data: data };
      });
  }

  // --- Blob URLs of the widget's images: revoked once their bubble has left the page ---------

  var blobs = []; // every blob: URL handed out and not yet revoked

  function revoke(url) {
    var at = blobs.indexOf(url);
    if (at >= 0) {
      blobs.splice(at, 1);
      URL.revokeObjectURL(url);
    }
  }

  function keep(url) {
    blobs.push(url);
    return url;
  }

  function revokeWithin(node) {
    if (node.nodeType !== 1) return;
    var images = node.matches("img[data-blob]") ? [node] : node.querySelectorAll("img[data-blob]");
    Array.prototype.forEach.call(images, function (img) {
      revoke(img.src);
    });
  }

  new MutationObserver(function (records) {
    records.forEach(function (record) {
      Array.prototype.forEach.call(record.removedNodes, function (node) {
        if (!node.isConnected) revokeWithin(node);
      });
    });
  }).observe(list, { childList: true, subtree: true });

  window.addEventListener("pagehide", function () {
    blobs.slice().forEach(revoke);
  });

  /** The file at ``url`` as a blob: URL (the buyer's header), for an <img> marked data-blob. */
  function fetchBlob(url) {
    return request("GET", url).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      return response.blob().then(function (blob) {
        return keep(URL.createObjectURL(blob));
      });
    });
  }

  /** Shows ``url`` in ``img``: directly for staff, through a blob for the buyer, and only while
   * the image is on the page (a bubble drawn and thrown away fetches nothing). */
  function fill(img, url) {
    if (staff) {
      img.src = url;
      return;
    }
    Promise.resolve().then(function () {
      if (!img.isConnected) return;
      fetchBlob(url).then(
        function (blobUrl) {
          img.dataset.blob = "1";
          img.src = blobUrl;
          if (!img.isConnected) revoke(blobUrl);
        },
        function () {
          img.alt = msg("image-unavailable");
          img.classList.add("is-broken");
        }
      );
    });
  }

  // --- The full image, in a dialog -------------------------------------------------------------

  var viewer = null;

  function openViewer(image) {
    if (!viewer) {
      viewer = el("dialog", "image-viewer");
      viewer.setAttribute("aria-label", msg("image"));
      var close = el("button", "button button--small image-viewer__close", msg("close"));
      close.type = "button";
      close.addEventListener("click", function () {
        viewer.close();
      });
      viewer.appendChild(close);
      viewer.appendChild(el("img", "image-viewer__img"));
      viewer.addEventListener("click", function (event) {
        if (event.target === viewer) viewer.close(); // a click on the backdrop
      });
      viewer.addEventListener("close", function () {
        var img = viewer.querySelector("img");
        if (img.dataset.blob) revoke(img.src);
        img.removeAttribute("src");
        delete img.dataset.blob;
      });
      document.body.appendChild(viewer);
    }
    var img = viewer.querySelector("img");
    img.alt = msg("image");
    img.width = image.width;
    img.height = image.height;
    if (staff) {
      img.src = image.url;
    } else {
      fetchBlob(image.url).then(
        function (blobUrl) {
          if (!viewer.open) return revoke(blobUrl);
          img.dataset.blob = "1";
          img.src = blobUrl;
        },
        function () {
          img.alt = msg("image-unavailable");
        }
      );
    }
    viewer.showModal();
    viewer.querySelector("button").focus();
  }

  // --- Drawing: images, recalled messages, the Recall action -----------------------------------

  function thumbnail(image) {
    var scale = Math.min(1, THUMBNAIL_BOX / Math.max(image.width || 1, image.height || 1));
    var open = el("button", "bubble__image");
    open.type = "button";
    open.title = msg("image-open");
    open.setAttribute("aria-label", msg("image-open"));
    var img = el("img", "bubble__thumbnail");
    img.alt = msg("image");
    img.width = Math.max(1, Math.round((image.width || THUMBNAIL_BOX) * scale));
    img.height = Math.max(1, Math.round((image.height || THUMBNAIL_BOX) * scale));
    img.decoding = "async";
    open.appendChild(img);
    open.addEventListener("click", function () {
      openViewer(image);
    });
    fill(img, image.thumbnail_url);
    return open;
  }

  /** Everything of the bubble but who sent it and when goes; ``node`` takes its place. */
  function replaceContent(item, node) {
    Array.prototype.slice.call(item.childNodes).forEach(function (child) {
      var keepIt =
        child.nodeType === 1 &&
        (child.classList.contains("bubble__sender") || child.classList.contains("bubble__time"));
      if (!keepIt) item.removeChild(child);
    });
    var sender = item.querySelector(".bubble__sender");
    item.insertBefore(node, sender ? sender.nextSibling : item.firstChild);
  }

  function showRecalled(item) {
    item.classList.add("bubble--recalled");
    replaceContent(item, el("p", "bubble__recalled", msg("recalled")));
  }

  function own(m) {
    return staff ? m.sender === "agent" && m.agent === host.me : m.sender === "buyer";
  }

  function recallUrl(m) {
    if (staff) return host.conversationsUrl + m.conversation + "/messages/" + m.id + "/recall/";
    return "/api/v1/widget/conversation/messages/" + m.id + "/recall/";
  }

  function addRecall(item, m) {
    var left = (Date.parse(m.created_at) || 0) + RECALL_WINDOW_MS - Date.now();
    if (left <= 0) return;
    var button = el("button", "bubble__recall", msg("recall"));
    button.type = "button";
    item.appendChild(button);
    var timer = window.setTimeout(function () {
      button.remove();
    }, left);
    button.addEventListener("click", function () {
      button.disabled = true;
      request("POST", recallUrl(m))
        .then(answer)
        .then(
          function (r) {
            if (r.ok) {
              window.clearTimeout(timer);
              button.remove();
              showRecalled(item); // message.updated redraws it the same way
              say("");
              return;
            }
            say(msg("recall-failed") + " " + (firstError(r.data) || r.status));
            if (r.status === 409) button.remove(); // too late now
            else button.disabled = false;
          },
          function () {
            button.disabled = false;
            say(msg("recall-failed") + " " + (host.msg("network") || host.msg("error")));
          }
        );
    });
  }

  function decorate(item, m) {
    if (m.recalled) {
      showRecalled(item);
      return;
    }
    if (m.kind === "image" && m.image) {
      item.classList.add("bubble--image");
      replaceContent(item, thumbnail(m.image));
    }
    if (m.id && m.created_at && own(m)) addRecall(item, m);
  }

  host.on("bubble", function (detail) {
    decorate(detail.item, detail.message);
  });

  // --- Sending an image ----------------------------------------------------------------------

  function clientId() {
    return "i" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
  }

  function megabytes(bytes) {
    return String(Math.round((bytes / (1024 * 1024)) * 10) / 10);
  }

  /** The reason a file cannot be sent, or "" (the server checks the same again). */
  function refusal(file) {
    if (TYPES.indexOf(file.type) < 0) return msg("image-type");
    if (file.size > maxBytes) return msg("image-too-large").replace("{mb}", megabytes(maxBytes));
    return "";
  }

  function uploadUrl() {
    if (staff) return host.conversationsUrl + host.openId() + "/images/";
    return "/api/v1/widget/conversation/images/";
  }

  /** The bubble shown while the image goes up, with the picture from the file itself. */
  function pendingBubble(file, cid) {
    var item = el("li", "bubble bubble--mine bubble--image is-pending");
    item.dataset.clientId = cid;
    item.appendChild(el("span", "bubble__sender", host.msg("sending")));
    var img = el("img", "bubble__thumbnail");
    img.alt = msg("image");
    img.dataset.blob = "1";
    img.src = keep(URL.createObjectURL(file));
    item.appendChild(img);
    list.appendChild(item);
    item.scrollIntoView({ block: "end" });
    return item;
  }

  /** The server stored it, yet no socket event has drawn it (no socket now): draw it here. */
  function finish(item, m) {
    if (!item.isConnected || !item.classList.contains("is-pending")) return;
    item.classList.remove("is-pending");
    item.dataset.messageId = m.id;
    if (m.seq) item.dataset.seq = m.seq;
    item.querySelector(".bubble__sender").textContent = host.msg("you");
    decorate(item, m);
  }

  function failed(item, why) {
    say(msg("image-failed") + " " + why);
    if (!item.isConnected) return;
    item.classList.remove("is-pending");
    item.classList.add("is-failed");
    item.querySelector(".bubble__sender").textContent = msg("image-failed") + " " + why;
  }

  function send(file) {
    var cid = clientId();
    var body = new FormData();
    body.append("image", file);
    body.append("client_id", cid);
    var item = pendingBubble(file, cid);
    request("POST", uploadUrl(), body)
      .then(answer)
      .then(
        function (r) {
          if (r.ok) {
            window.setTimeout(function () {
              finish(item, r.data);
            }, FINISH_PENDING_MS);
          } else {
            failed(item, firstError(r.data) || String(r.status));
          }
        },
        function () {
          failed(item, host.msg("network") || host.msg("error"));
        }
      );
  }

  if (attach && picker) {
    attach.hidden = false;
    // The attach button follows the reply box: off while the conversation cannot take a reply.
    var follow = function () {
      attach.disabled = textInput.disabled;
    };
    new MutationObserver(follow).observe(textInput, { attributes: true, attributeFilter: ["disabled"] });
    follow();
    attach.addEventListener("click", function () {
      picker.click();
    });
    picker.addEventListener("change", function () {
      var file = picker.files && picker.files[0];
      picker.value = ""; // the same file may be chosen again
      if (!file) return;
      if (staff && !host.openId()) return;
      if (!staff && !host.token()) return;
      var why = refusal(file);
      say(why);
      if (why) return;
      send(file);
    });
  }

  // --- The widget's unread count in the tab title (I2) -----------------------------------------

  if (!staff) {
    var baseTitle = document.title;
    var unread = 0;
    host.on("event", function (detail) {
      if (detail.type !== "message.created" || !document.hidden) return;
      if (detail.data.sender !== "agent") return;
      unread += 1;
      document.title = "(" + unread + ") " + baseTitle;
    });
    document.addEventListener("visibilitychange", function () {
      if (document.hidden || !unread) return;
      unread = 0;
      document.title = baseTitle;
    });
  }
})();
