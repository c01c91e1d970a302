"""Prometheus metrics at ``/metrics`` (SPEC I7; issue 12), with ``prometheus_client``.

What is measured where:

- HTTP request latency by method, route (the URL pattern, never the raw path) and status:
  ``MetricsMiddleware``;
- open sockets by kind (agent, widget): ``SOCKETS``, by the sockets' consumer;
- routing decisions by outcome and reason: ``ROUTING_DECISIONS``, by the lifecycle where it
  writes a decision;
- the queue's length per shop and failed webhook deliveries: read from PostgreSQL when scraped
  (collectors registered with ``register_collector`` by the apps that own the data), so they are
  exact whatever process handled the work.

Several processes (uvicorn workers, Celery): with ``PROMETHEUS_MULTIPROC_DIR`` set (``make run``
and the Docker image set it) each process writes its samples to files there and a scrape sums
them (prometheus_client's multiprocess mode; open sockets as the live processes' sum). Without
it each process answers for itself. ``/metrics`` answers only a scraper sending
``Authorization: Bearer <HELPDESK_METRICS_TOKEN>``; without that setting it is off (404).
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

REQUEST_SECONDS = Histogram(
    "helpdesk_http_request_seconds",
    "HTTP requests by method, route and status, in seconds",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SOCKETS = Gauge(
    "helpdesk_websockets_open",
    "Open WebSocket connections by kind (agent, widget)",
    ["kind"],
    multiprocess_mode="livesum",
)
ROUTING_DECISIONS = Counter(
    "helpdesk_routing_decisions_total",
    "Routing decisions written, by outcome (assign, queue, pool) and reason",
    ["outcome", "reason"],
)

_collectors: list[Callable[[], Collector]] = []


def register_collector(factory: Callable[[], Collector]) -> None:
    """A collector read at every scrape (e.g. from PostgreSQL), added by the app owning its
    data (``AppConfig.ready``)."""
    _collectors.append(factory)


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    return registry


class _Scrape(CollectorRegistry):
    """The process's (or the processes') samples and the collectors read at scrape time."""

    def __init__(self, base: CollectorRegistry, extra: Iterable[Collector]) -> None:
        super().__init__(auto_describe=False)
        self._base = base
        self._extra = list(extra)

    def collect(self) -> Any:
        yield from self._base.collect()
        for collector in self._extra:
            yield from collector.collect()


def metrics_view(request: HttpRequest) -> HttpResponse:
    """``GET /metrics`` for a scraper with the token; 404 when the setting is off."""
    token: str = settings.HELPDESK_METRICS_TOKEN
    if not token:
        raise Http404
    given = request.headers.get("Authorization", "")
    expected = f"Bearer {token}"
    if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode()):
        response = HttpResponse("unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    scrape = _Scrape(_registry(), (factory() for factory in _collectors))
    return HttpResponse(generate_latest(scrape), content_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Observes every HTTP request's latency by method, route pattern and status."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None and match.route else "unmatched"
        REQUEST_SECONDS.labels(request.method or "", route, str(response.status_code)).observe(
            time.perf_counter() - started
        )
        return response
