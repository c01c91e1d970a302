"""Health probes answered before anything else (SPEC I7); 503 when a resource is unavailable."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from apps.core import logs, metrics, views
from apps.core.unavailable import is_unavailable, unavailable_response

logger = logging.getLogger(__name__)

PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/healthz": views.healthz,
    "/readyz": views.readyz,
    # Prometheus scrapes by address too; the endpoint checks its own bearer token.
    "/metrics": metrics.metrics_view,
}


class HealthCheckMiddleware:
    """``/healthz`` and ``/readyz`` for load balancers, which probe by IP address and over plain
    HTTP: answered here, before ``ALLOWED_HOSTS`` is checked and before the HTTPS redirect. They
    reveal nothing but up / ready."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is not None:
            return probe(request)
        return self.get_response(request)


class RequestIdMiddleware:
    """SPEC I7: each request gets an id (the caller's ``X-Request-ID`` when sane), on every log
    line written while it is handled (``apps.core.logs.RequestIdFilter``) and in the answer."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Set until the request is finished (``logs.forget_request_id``, on request_finished):
        # Django logs a 4xx or 5xx answer after the middleware chain has returned it.
        rid = logs.new_request_id(request.headers.get("X-Request-ID"))
        logs.request_id.set(rid)
        response = self.get_response(request)
        response["X-Request-ID"] = rid
        return response


class UnavailableMiddleware:
    """A view that fails because the database pool is exhausted or PostgreSQL or Redis cannot be
    reached answers 503 with ``Retry-After`` (apps.core.unavailable), not 500. API views map the
    same errors in their exception handler (apps.core.api); this covers the other views."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_unavailable(exception):
            logger.warning("%s %s: 503, %r", request.method, request.path, exception)
            return unavailable_response()
        return None


class SyncViewsMiddleware:
    """Last in ``MIDDLEWARE``, sync only: under ASGI, Django then runs the whole chain and the
    (sync) view in one worker thread per request. Without it, the middlewares that can run
    either way went async below the first sync-only one (WhiteNoise), and each request hopped
    thread -> event loop -> thread again (asgiref's AsyncToSync and SyncToAsync): about a fifth
    of a request's CPU under a burst (issue 8, measured with py-spy). Django's documentation,
    "Asynchronous support": a sync view under ASGI costs one switch when nothing in the chain
    is async."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)
