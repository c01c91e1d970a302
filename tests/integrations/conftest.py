"""Webhook test helpers: a real HTTP receiver on 127.0.0.1 that answers as told and keeps what
it received, the check a shop's system makes of a request (the documented signature), and the
Celery calls of ``apps.integrations`` caught in-process (no broker, no worker) for the tests
that run the delivery themselves."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pytest_django.fixtures import Settings

from apps.integrations import delivery, publish, subscriptions, tasks


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class Receiver:
    """A threaded ``http.server`` on 127.0.0.1: answers ``answers`` in turn, then
    ``default`` (200)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: list[Answer] = []
        self.default = Answer()  # once ``answers`` are used up
        self._lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    answer = receiver.answers.pop(0) if receiver.answers else receiver.default
                if answer.delay:
                    time.sleep(answer.delay)
                with receiver._lock:
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    receiver._lock.notify_all()
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, *answers: Answer | int) -> None:
        with self._lock:
            self.answers.extend(a if isinstance(a, Answer) else Answer(a) for a in answers)

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
            return True


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()


@pytest.fixture
def allow_private(settings: Settings) -> None:
    """The receiver is on 127.0.0.1: only reachable with the private-address rule lifted."""
    settings.HELPDESK_WEBHOOKS_ALLOW_PRIVATE = True


@pytest.fixture(autouse=True)
def _nothing_known() -> Iterator[None]:
    subscriptions.forget_all()
    yield
    subscriptions.forget_all()


def shop_verifies(secret: str, request: Received) -> bool:
    """What a shop's system does with a request (API.md): the HMAC-SHA256 of
    "<X-Helpdesk-Timestamp>.<raw body>" keyed with the secret, compared in constant time with
    X-Helpdesk-Signature's hex after "sha256="."""
    timestamp = request.headers["x-helpdesk-timestamp"]
    scheme, _sep, given = request.headers["x-helpdesk-signature"].partition("=")
    expected = hmac.new(
        secret.encode("utf-8"), timestamp.encode("ascii") + b"." + request.body, hashlib.sha256
    ).hexdigest()
    return scheme == "sha256" and hmac.compare_digest(expected, given)


@dataclass
class Queued:
    """The Celery calls the code made, caught: events for the fan-out, attempts asked for."""

    events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    attempts: list[tuple[int, float]] = field(default_factory=list)  # (delivery, countdown)

    def fan_out(self) -> list[int]:
        """Run the fan-out of every event caught (as the worker would); the deliveries."""
        made: list[int] = []
        events, self.events = self.events, []
        for shop_id, event in events:
            made += delivery.event_fan_out(shop_id=shop_id, event=event)
        return made


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> Queued:
    caught = Queued()

    class FakeEvent:
        @staticmethod
        def delay(shop_id: int, event: dict[str, Any]) -> None:
            caught.events.append((shop_id, event))

    def apply_async(args: tuple[int], countdown: float = 0, **kw: Any) -> None:
        caught.attempts.append((args[0], countdown))

    monkeypatch.setattr(publish, "webhook_event", FakeEvent)
    monkeypatch.setattr(tasks.webhook_deliver, "apply_async", apply_async)
    monkeypatch.setattr(tasks.webhook_deliver, "delay", lambda d: apply_async((d,)))
    return caught
