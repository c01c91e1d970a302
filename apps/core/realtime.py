"""Pushing to sockets, only ever after the transaction that caused it has committed.

Sync code (views, services, Celery tasks) publishes through :func:`publish`. It does not use
``async_to_sync(layer.group_send)`` directly: without a running event loop, ``async_to_sync``
makes a new loop for every call, and channels_redis keeps a connection pool per event loop, so
each push would open (and, when the loop closes, flush) a pool of its own; from a thread that
already runs a loop it refuses to work at all. Instead each process keeps one long-lived event loop
in a daemon thread with its own channel-layer instance, and sync code hands it each push
(``call_soon_threadsafe``; the in-memory layer of the embedded mode: the server's own loop, with
a bounded wait). The thread is made again after a fork
(Celery's prefork workers), so no pool is ever shared between processes or loops.

Sync code does not wait for its pushes: ``publish`` hands the message to the loop and returns,
so a request or a socket call does not spend a Redis round trip per recipient after its commit
(issue 8: the second recipient of a message no longer waits behind the first). Pushes to one
group keep their order (each waits for the one before it to the same group); pushes to different
groups go out concurrently. ``flush`` waits for everything handed over so far, for a process
about to end (it also runs at exit).

A push that fails (Redis down, timeout) is logged and dropped, as is a push beyond
``MAX_IN_FLIGHT`` waiting ones (Redis too slow to keep up): the event is already stored in the
outbox (``apps.events``), and sockets read it from there on their next event, heartbeat or
reconnect (docs/realtime.md).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import functools
import logging
import os
import threading
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import (
    DEFAULT_CHANNEL_LAYER,
    BaseChannelLayer,
    InMemoryChannelLayer,
    channel_layers,
    get_channel_layer,
)
from django.conf import settings
from django.db import transaction
from redis.exceptions import RedisError

try:
    import uvloop
except ImportError:  # pragma: no cover - uvicorn[standard] brings it
    uvloop = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

PUBLISH_TIMEOUT_SECONDS = 5.0
MAX_IN_FLIGHT = 10_000  # pushes waiting on the loop; beyond, new ones are dropped (logged)


def account_group(account_id: int) -> str:
    """The channel-layer group every socket of one account joins."""
    return f"account.{account_id}"


def buyer_group(buyer_id: int) -> str:
    """The channel-layer group every socket of one buyer joins."""
    return f"buyer.{buyer_id}"


def _send_slots() -> int:
    """Sends under way at once on the publisher's loop (half ``REDIS_POOL_MAX``): a burst of
    pushes queues here, in order per group, rather than inside the layer."""
    return max(1, int(getattr(settings, "REDIS_POOL_MAX", 20)) // 2)


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when it is installed (uvicorn's, ``uvicorn[standard]``): faster to wake from
    another thread and to talk to Redis, which is all this loop does."""
    return asyncio.new_event_loop() if uvloop is None else uvloop.new_event_loop()


class _Publisher:
    """One event loop thread per process for sends from sync code (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._layer: BaseChannelLayer | None = None
        # In-memory layer (embedded mode): the server's own loop, where the consumers wait.
        self.server_loop: asyncio.AbstractEventLoop | None = None
        self._flush_at_exit = False
        # On the loop only: each group's last push, and how many pushes are under way.
        self._tails: dict[str, asyncio.Future[None]] = {}
        self._in_flight = 0
        self._slots = asyncio.Semaphore(1)

    def _start(self) -> tuple[asyncio.AbstractEventLoop, BaseChannelLayer]:
        with self._lock:
            if self._pid != os.getpid() or self._loop is None or self._layer is None:
                loop = _new_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="channel-layer-publisher", daemon=True
                )
                thread.start()
                self._layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
                self._loop = loop
                self._pid = os.getpid()
                self._tails = {}
                self._in_flight = 0
                self._slots = asyncio.Semaphore(_send_slots())
                if not self._flush_at_exit:
                    atexit.register(self.flush)
                    self._flush_at_exit = True
            return self._loop, self._layer

    def publish(self, group: str, message: dict[str, Any]) -> None:
        shared = get_channel_layer()
        if shared is None:
            return
        if isinstance(shared, InMemoryChannelLayer):
            self._publish_in_memory(shared, group, message)
            return
        loop, layer = self._start()
        loop.call_soon_threadsafe(self._schedule, layer, group, message)

    def _schedule(self, layer: BaseChannelLayer, group: str, message: dict[str, Any]) -> None:
        """On the loop: send after the previous push to the same group."""
        if self._in_flight >= MAX_IN_FLIGHT:
            logger.warning("push to %s dropped: %d waiting already", group, MAX_IN_FLIGHT)
            return
        previous = self._tails.get(group)
        task = asyncio.ensure_future(self._send(layer, group, message, previous))
        self._tails[group] = task
        self._in_flight += 1
        task.add_done_callback(functools.partial(self._sent, group))

    def _sent(self, group: str, task: asyncio.Future[None]) -> None:
        self._in_flight -= 1
        if self._tails.get(group) is task:
            del self._tails[group]

    async def _send(
        self,
        layer: BaseChannelLayer,
        group: str,
        message: dict[str, Any],
        previous: asyncio.Future[None] | None,
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        async with self._slots:  # fewer sends at once than the loop's Redis pool has connections
            try:
                async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):  # no task per push
                    await layer.group_send(group, message)
            except (TimeoutError, RedisError) as error:
                logger.warning("push to %s failed (%r); clients catch up", group, error)
            except Exception:
                logger.exception("push to %s failed; clients catch up from the outbox", group)

    def flush(self, timeout: float = PUBLISH_TIMEOUT_SECONDS) -> None:
        """Wait (at most ``timeout``) until every push handed over so far has been sent."""
        loop = self._loop
        if loop is None or self._pid != os.getpid() or not loop.is_running():
            return

        async def drain() -> None:
            tails = list(self._tails.values())
            if tails:
                await asyncio.wait(tails)

        try:
            asyncio.run_coroutine_threadsafe(drain(), loop).result(timeout=timeout)
        except Exception:
            logger.warning("pushes still waiting after %.0f s; clients catch up", timeout)

    def _wait(self, future: concurrent.futures.Future[Any], group: str) -> None:
        try:
            future.result(timeout=PUBLISH_TIMEOUT_SECONDS)
        except concurrent.futures.TimeoutError:
            future.cancel()
            logger.warning("push to %s timed out; clients catch up from the outbox", group)
        except Exception:
            logger.exception("push to %s failed; clients catch up from the outbox", group)

    def _publish_in_memory(
        self, layer: InMemoryChannelLayer, group: str, message: dict[str, Any]
    ) -> None:
        """The in-memory layer lives on the server's loop: send there, from whatever thread."""
        loop = self.server_loop
        if loop is not None and loop.is_running() and not _running_in(loop):
            future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop)
            self._wait(future, group)
            return
        try:
            async_to_sync(layer.group_send)(group, message)
        except Exception:
            logger.exception("push to %s failed", group)


def _running_in(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


_publisher = _Publisher()


def publish(group: str, message: dict[str, Any]) -> None:
    """Send ``message`` to ``group`` now, from sync code. Never raises: a failed push is logged."""
    _publisher.publish(group, message)


def flush(timeout: float = PUBLISH_TIMEOUT_SECONDS) -> None:
    """Wait until the pushes handed over so far (by this process) have gone: before exiting."""
    _publisher.flush(timeout)


def remember_server_loop() -> None:
    """Called by consumers (on the server's loop): the in-memory layer's pushes go there."""
    if _publisher.server_loop is None:
        _publisher.server_loop = asyncio.get_running_loop()


def send_to_group_on_commit(group: str, message: dict[str, Any]) -> None:
    """Send ``message`` to ``group`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: publish(group, message), robust=True)
