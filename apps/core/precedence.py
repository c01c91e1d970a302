"""Precedence for the holder of a shop's routing lock within its process (issue 8).

Under a burst the shop's lock is the bottleneck: one routing pass at a time decides the shop's
pending requests, and a pass held the lock about twice as long as its own CPU time because the
process's other request threads held the one GIL in between (py-spy and a trace of every pass,
docs/routing.md, "Throughput"). While a pass holds the lock (``holding``), the process's other
threads hold off at two points where they hold no transaction (``give_way``): an HTTP request
before it starts (``asgi_http``), and any thread that asked for a human (``request_human``: an
HTTP request, or a buyer socket's database thread when its first message opens a conversation
that skips the assistant) after its routing decision, before its answer is built. They wait
at most ``HELPDESK_PASS_PRECEDENCE_MS`` (50 by default; 0: never) each time, so that the passes of
many shops never starve a request: in a process always running some shop's pass, a request
waits that long at each point and then goes on.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

_changed = threading.Condition()
_holders = 0


@contextmanager
def holding() -> Iterator[None]:
    """Mark this thread as holding a routing lock: the other request threads give way."""
    global _holders
    with _changed:
        _holders += 1
    try:
        yield
    finally:
        with _changed:
            _holders -= 1
            if _holders == 0:
                _changed.notify_all()


def give_way(max_wait: float | None = None) -> None:
    """Wait (at most ``max_wait`` seconds, ``HELPDESK_PASS_PRECEDENCE_MS`` by default) while a
    routing lock is held in this process; not inside a transaction (its row locks might be what
    the holder waits for)."""
    if not _holders:  # unlocked read: the common case costs nothing
        return
    if max_wait is None:
        max_wait = settings.HELPDESK_PASS_PRECEDENCE_MS / 1000
    if max_wait <= 0 or connection.in_atomic_block:
        return
    with _changed:
        _changed.wait_for(lambda: _holders == 0, timeout=max_wait)
