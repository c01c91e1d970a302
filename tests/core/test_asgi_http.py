"""HTTP under ASGI (apps.core.asgi_http): Django's sync handler on a bounded pool, one hop.

Driven as an ASGI server drives it (scope, receive, send), with views of a test URLconf: the
whole request (signals, middleware, view, closing) runs on one pool thread, streaming answers
arrive whole, the pool bounds how many requests run at once, and requests share the process's
Redis connections."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.core import signals
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from apps.core.asgi_http import PooledHTTPHandler
from config import urls as product_urls

seen: dict[str, Any] = {}
running = {"now": 0, "most": 0}
running_lock = threading.Lock()


def where(request: HttpRequest) -> JsonResponse:
    seen["view"] = threading.get_ident()
    return JsonResponse({"body": request.body.decode(), "method": request.method})


def stream(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(iter([b"one,", b"two,", b"three"]), content_type="text/csv")


def cached(request: HttpRequest) -> HttpResponse:
    cache.set("asgi-http-test", "seen", 10)
    return HttpResponse(cache.get("asgi-http-test"))


def slow(request: HttpRequest) -> HttpResponse:
    with running_lock:
        running["now"] += 1
        running["most"] = max(running["most"], running["now"])
    time.sleep(0.05)
    with running_lock:
        running["now"] -= 1
    return HttpResponse("ok")


# The product's URLs (its error pages link to them) and these views.
urlpatterns = [
    path("where/", csrf_exempt(where)),
    path("stream/", stream),
    path("slow/", slow),
    path("cached/", cached),
    *product_urls.urlpatterns,
]


async def call(app: PooledHTTPHandler, method: str, url: str, body: bytes = b"") -> dict[str, Any]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": url,
        "raw_path": url.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"text/plain")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    chunks = [body[:3], body[3:]]  # the body in two messages, as a server may deliver it

    async def receive() -> dict[str, Any]:
        part = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": part, "more_body": bool(chunks)}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    return {
        "status": start["status"],
        "headers": dict(start["headers"]),
        "body": b"".join(m.get("body", b"") for m in sent[1:]),
        "last_more": sent[-1].get("more_body", False),
    }


@pytest.fixture
def app(settings: Any) -> PooledHTTPHandler:
    settings.ROOT_URLCONF = __name__
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    return PooledHTTPHandler(threads=2)


async def test_the_whole_request_runs_on_one_pool_thread(app: PooledHTTPHandler) -> None:
    # given receivers of the signals that take and give back a thread's database connection
    threads: dict[str, int] = {}

    def started(**kwargs: Any) -> None:
        threads["started"] = threading.get_ident()

    def finished(**kwargs: Any) -> None:
        threads["finished"] = threading.get_ident()

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    try:
        answer = await call(app, "POST", "/where/", b"hello body")
    finally:
        signals.request_started.disconnect(started)
        signals.request_finished.disconnect(finished)

    # then the body arrived whole, and signals and view ran on the same thread, not the loop's
    assert answer["status"] == 200
    assert answer["body"] == b'{"body": "hello body", "method": "POST"}'
    assert threads["started"] == seen["view"] == threads["finished"]
    assert seen["view"] != threading.get_ident()
    assert answer["last_more"] is False


async def test_a_streaming_answer_arrives_whole(app: PooledHTTPHandler) -> None:
    answer = await call(app, "GET", "/stream/")
    assert answer["status"] == 200
    assert answer["headers"][b"Content-Type"] == b"text/csv"
    assert answer["body"] == b"one,two,three"


async def test_no_more_requests_run_at_once_than_the_pool_has_threads(
    app: PooledHTTPHandler,
) -> None:
    running["most"] = 0
    answers = await asyncio.gather(*(call(app, "GET", "/slow/") for _ in range(6)))
    assert [a["body"] for a in answers] == [b"ok"] * 6
    assert running["most"] == 2


async def test_an_unknown_path_is_answered_by_django(app: PooledHTTPHandler) -> None:
    answer = await call(app, "GET", "/nowhere/")
    assert answer["status"] == 404


async def test_requests_share_the_process_s_redis_connections(app: PooledHTTPHandler) -> None:
    # Each request runs in a context of its own, where Django keeps its cache backends: with
    # Django's RedisCache every request opened a Redis connection (apps.core.cache, issue 8).
    server = redis.Redis.from_url(django_settings.REDIS_URL)
    await call(app, "GET", "/cached/")  # the process's first use opens what it needs
    before = server.info("stats")["total_connections_received"]
    answers = [await call(app, "GET", "/cached/") for _ in range(20)]
    opened = server.info("stats")["total_connections_received"] - before
    assert [a["body"] for a in answers] == [b"seen"] * 20
    assert opened <= 2  # the pool's second thread may open one; not one per request
