"""The installable workbench (seed 002: agents away from a desk answer from a phone): the web app
manifest and a service worker scoped to /workbench/.

The manifest is a view rather than a static file so that its name follows the visitor's
language (the same translated "Shop helpdesk" as the pages' titles). The service worker keeps
copies of the workbench's static assets only (its scripts, styles and icons), never an API
answer nor a page, which carry a shop's data: it answers those from the network alone, and
static assets from the network first, falling back to its copy when the network fails (the
static files are not fingerprinted, so a copy first would run yesterday's script after a
deployment). It is served from /workbench/sw.js, whose default scope is /workbench/, so no
``Service-Worker-Allowed`` widening is needed; the header names that scope all the same."""

from __future__ import annotations

import hashlib
import json

from django.http import HttpRequest, HttpResponse
from django.templatetags.static import static
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

THEME_COLOR = "#1f5fbf"  # --c-primary of static/css/app.css
ICON_SIZES = (192, 512)
# What the workbench page loads from /static/ (templates/web/workbench.html and base.html).
WORKBENCH_ASSETS = (
    "css/app.css",
    "css/chat_extras.css",
    "css/buyer_panel.css",
    "js/app.js",
    "js/socket.js",
    "js/workbench.js",
    "js/widget_cards.js",
    "js/buyer_panel.js",
    "js/chat_images.js",
    "js/alerts.js",
    "js/pool.js",
    "js/staff_messages.js",
    "js/pwa.js",
    "img/favicon.svg",
    *(f"icons/icon-{size}.png" for size in ICON_SIZES),
)

SERVICE_WORKER = """\
/* The workbench's service worker (apps/web/pwa.py): copies of static assets only. */
"use strict";
var CACHE = %(cache)s;
var ASSETS = %(assets)s;
var STATIC_PREFIX = %(prefix)s;

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) {
      return cache.addAll(ASSETS);
    }).then(function () {
      return self.skipWaiting();
    })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf("workbench-static-") === 0 && name !== CACHE;
      }).map(function (name) {
        return caches.delete(name);
      }));
    }).then(function () {
      return self.clients.claim();
    })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  // Pages, API answers and images of chats carry a shop's data: never kept, never answered here.
  if (url.origin !== self.location.origin || url.pathname.indexOf(STATIC_PREFIX) !== 0) return;
  event.respondWith(
    fetch(request).then(function (response) {
      if (response.ok) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) {
          cache.put(request, copy);
        });
      }
      return response;
    }, function (error) {
      return caches.match(request).then(function (kept) {
        if (kept) return kept;
        throw error;
      });
    })
  );
});
"""


@require_GET
def manifest(request: HttpRequest) -> HttpResponse:
    data = {
        "name": _("Shop helpdesk"),
        "short_name": _("Helpdesk"),
        "start_url": reverse("web:workbench"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#f4f6f9",
        "theme_color": THEME_COLOR,
        "icons": [
            {
                "src": static(f"icons/icon-{size}.png"),
                "sizes": f"{size}x{size}",
                "type": "image/png",
                "purpose": "any maskable",
            }
            for size in ICON_SIZES
        ],
    }
    response = HttpResponse(
        json.dumps(data, ensure_ascii=False), content_type="application/manifest+json"
    )
    response["Vary"] = "Accept-Language, Cookie"
    return response


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    assets = [static(name) for name in WORKBENCH_ASSETS]
    version = hashlib.sha256("\n".join(assets).encode()).hexdigest()[:12]
    body = SERVICE_WORKER % {
        "cache": json.dumps(f"workbench-static-{version}"),
        "assets": json.dumps(assets),
        "prefix": json.dumps(static("")),
    }
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = reverse("web:workbench")
    response["Cache-Control"] = "no-cache"
    return response


urlpatterns = [
    path("manifest.webmanifest", manifest, name="manifest"),
    path("workbench/sw.js", service_worker, name="service-worker"),
]
