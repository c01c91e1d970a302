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
(issue 8: the second recipient of a message no longer waits behind the first). Pushes keep the
order they were handed over in: one wake-up of the loop takes all that are waiting and
publishes them in one Redis pipeline per shard (``_publish_pipelined``), a batch at a time.
``flush`` waits for everything handed over so far, for a process about to end (it also runs at
exit).

A push that fails (Redis down, timeout) is logged and dropped, as is a push beyond
``MAX_IN_FLIGHT`` waiting ones (Redis too slow to keep up): the event is already stored in the
outbox (``apps.events``), and sockets read it from there on their next event, heartbeat or
reconnect (docs/realtime.md).
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import concurrent.futures
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
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.db import transaction
from redis.exceptions import RedisError

try:
    import uvloop
except ImportError:  # pragma: no cover - uvicorn[standard] brings it
    uvloop = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

PUBLISH_TIMEOUT_SECONDS = 5.0
MAX_IN_FLIGHT = 10_000  # pushes waiting on the loop; beyond, new ones are dropped (logged)
BATCH = 500  # pushes sent in one pipeline at most


def account_group(account_id: int) -> str:
    """The channel-layer group every socket of one account joins."""
    return f"account.{account_id}"


def buyer_group(buyer_id: int) -> str:
    """The channel-layer group every socket of one buyer joins."""
    return f"buyer.{buyer_id}"


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
        # Pushes handed over and not yet sent, in order (appended by any thread, taken by the
        # loop); whether the loop has been woken for them; the loop's sending task.
        self._pending: collections.deque[tuple[str, dict[str, Any]]] = collections.deque()
        self._woken = False
        self._sending: asyncio.Future[None] | None = None

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
                self._pending = collections.deque()
                self._woken = False
                self._sending = None
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
        if len(self._pending) >= MAX_IN_FLIGHT:
            logger.warning("push to %s dropped: %d waiting already", group, MAX_IN_FLIGHT)
            return
        self._pending.append((group, message))
        if not self._woken:  # one wake-up for all the pushes handed over until the loop runs
            self._woken = True
            loop.call_soon_threadsafe(self._wake, layer)

    def _wake(self, layer: BaseChannelLayer) -> None:
        """On the loop: start sending, unless a sending task is at it already."""
        self._woken = False
        if self._sending is None:
            self._sending = asyncio.ensure_future(self._send_pending(layer))

    async def _send_pending(self, layer: BaseChannelLayer) -> None:
        """On the loop: send what is pending, a batch at a time, until nothing is."""
        try:
            while self._pending:
                batch = [self._pending.popleft() for _ in range(min(len(self._pending), BATCH))]
                await self._send(layer, batch)
        finally:
            self._sending = None

    async def _send(self, layer: BaseChannelLayer, batch: list[tuple[str, dict[str, Any]]]) -> None:
        groups = sorted({group for group, _message in batch})
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):  # no task per push
                if isinstance(layer, RedisPubSubChannelLayer):
                    await _publish_pipelined(layer, batch)
                else:
                    for group, message in batch:
                        await layer.group_send(group, message)
        except (TimeoutError, RedisError) as error:
            logger.warning("push to %s failed (%r); clients catch up", ", ".join(groups), error)
        except Exception:
            logger.exception("push to %s failed; clients catch up from the outbox", groups)

    def flush(self, timeout: float = PUBLISH_TIMEOUT_SECONDS) -> None:
        """Wait (at most ``timeout``) until every push handed over so far has been sent."""
        loop = self._loop
        if loop is None or self._pid != os.getpid() or not loop.is_running():
            return

        async def drain() -> None:
            while self._pending or self._sending is not None:
                if self._sending is not None:
                    await asyncio.wait([self._sending])
                else:  # handed over, its wake-up not run yet
                    await asyncio.sleep(0)

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


async def _publish_pipelined(
    layer: RedisPubSubChannelLayer, batch: list[tuple[str, dict[str, Any]]]
) -> None:
    """Publish ``batch`` in order, one Redis round trip per shard: what the layer's
    ``group_send`` does for each message (its group channel's name, its serializer, its shard's
    connection, under the shard's lock), with the messages pipelined. The layer publishes one
    message per round trip under that lock, so a burst's pushes queued behind each other and
    cost the publisher thread about 1 ms of CPU per widget request (issue 8)."""
    loop_layer = layer._get_layer()  # the layer's state for this (the publisher's) loop
    by_shard: dict[Any, list[tuple[str, bytes]]] = {}
    for group, message in batch:
        channel = loop_layer._get_group_channel_name(group)
        shard = loop_layer._get_shard(channel)
        by_shard.setdefault(shard, []).append((channel, layer.serialize(message)))
    for shard, items in by_shard.items():
        async with shard._lock:
            shard._ensure_redis()
            pipe = shard._redis.pipeline(transaction=False)
            for channel, data in items:
                pipe.publish(channel, data)
            await pipe.execute()


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
