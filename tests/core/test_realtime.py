"""Pushing from sync code (views, services, Celery tasks) to sockets through the real Redis
channel layer (apps.core.realtime): one long-lived loop per process, from any thread, after a
fork, and a Redis outage costs a log line, never the caller's request."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid

from channels.layers import get_channel_layer

from apps.core import realtime


async def listen(group: str) -> tuple[object, str]:
    layer = get_channel_layer()
    assert layer is not None
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    return layer, channel


async def receive(layer: object, channel: str) -> dict:
    return await asyncio.wait_for(layer.receive(channel), 10)  # type: ignore[attr-defined]


async def test_sync_code_pushes_through_one_long_lived_loop():
    # given a socket's channel in a group
    group = f"test.{uuid.uuid4().hex}"
    layer, channel = await listen(group)

    # when sync code with no event loop publishes 20 times, from two different threads
    def burst(start: int) -> None:
        for n in range(start, start + 10):
            realtime.publish(group, {"type": "stream.event", "n": n})

    await asyncio.to_thread(burst, 0)
    await asyncio.to_thread(burst, 10)

    # then every message arrives, and all went through the one publisher loop and its pool
    got = sorted([(await receive(layer, channel))["n"] for _ in range(20)])
    assert got == list(range(20))
    publisher = realtime._publisher
    assert publisher._layer is not None and list(publisher._layer._layers) == [publisher._loop]


async def test_sync_code_inside_a_running_loop_can_push():
    # async_to_sync refuses to run in a thread that already runs an event loop; publish does not
    group = f"test.{uuid.uuid4().hex}"
    layer, channel = await listen(group)

    def inside_a_loop() -> None:
        async def sync_call_from_async() -> None:
            realtime.publish(group, {"type": "stream.event", "n": 1})

        asyncio.run(sync_call_from_async())

    await asyncio.to_thread(inside_a_loop)
    assert (await receive(layer, channel))["n"] == 1


def _fork_and_publish(group: str) -> int:
    """Fork like a prefork worker; the child publishes and exits with 0 when it could."""
    pid = os.fork()
    if pid == 0:  # the child: leave without running the parent's cleanup
        code = 1
        try:
            realtime.publish(group, {"type": "stream.event", "n": "child"})
            realtime.flush()  # os._exit skips the flush at exit
            code = 0
        finally:
            os._exit(code)
    _pid, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


async def test_a_forked_worker_gets_its_own_loop_and_still_pushes():
    # Celery's prefork workers fork after the parent may have published: no loop is shared
    group = f"test.{uuid.uuid4().hex}"
    layer, channel = await listen(group)
    await asyncio.to_thread(realtime.publish, group, {"type": "stream.event", "n": "parent"})
    assert (await receive(layer, channel))["n"] == "parent"

    assert await asyncio.to_thread(_fork_and_publish, group) == 0
    assert (await receive(layer, channel))["n"] == "child"


def test_an_unreachable_redis_is_logged_and_never_raises(settings, caplog):
    # the event is in the outbox already: a failed push must not fail the request
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    publisher = realtime._Publisher()
    done = threading.Event()

    def push() -> None:
        publisher.publish("test.unreachable", {"type": "stream.event"})
        done.set()

    thread = threading.Thread(target=push)
    thread.start()
    thread.join(realtime.PUBLISH_TIMEOUT_SECONDS + 5)
    assert done.is_set()
    publisher.flush(realtime.PUBLISH_TIMEOUT_SECONDS + 5)  # the push fails on the loop, later
    assert "push to test.unreachable failed" in caplog.text or "timed out" in caplog.text


async def test_300_sockets_joining_and_leaving_at_once_use_two_redis_connections():
    # issue 8, item 4: 300 sockets joining and leaving their groups at once (a deploy, a network
    # blip) share the loop's subscriber connection and one publishing connection; with the core
    # layer each took a pooled connection ("Too many connections" past channels_redis's 100)
    from channels.layers import channel_layers

    layer = channel_layers.make_backend("default")
    group = f"test.{uuid.uuid4().hex}"
    channels = await asyncio.gather(*(layer.new_channel() for _ in range(300)))
    await asyncio.gather(*(layer.group_add(group, c) for c in channels))
    await layer.group_send(group, {"type": "stream.event", "n": 1})
    received = await asyncio.gather(*(layer.receive(c) for c in channels[:3]))
    assert [m["n"] for m in received] == [1, 1, 1]
    await asyncio.gather(*(layer.group_discard(group, c) for c in channels))
    pool = layer._get_layer()._shards[0]._redis.connection_pool
    assert len(pool._available_connections) + len(pool._in_use_connections) <= 2
    await layer.flush()
