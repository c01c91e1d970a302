"""Pushes stay within their deployment: Redis's pub/sub channels are one name space for the
whole Redis server, so the channel layer's prefix names the Redis database (config/settings.py,
CHANNEL_PREFIX). Before, a test run and a benchmark on two databases of one Redis heard each
other's pushes (a flake in CI)."""

from __future__ import annotations

import asyncio
import urllib.parse

import pytest
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings


def _other_database_url() -> str:
    parts = urllib.parse.urlsplit(settings.REDIS_URL)
    db = int(parts.path.strip("/") or "0")
    return urllib.parse.urlunsplit(parts._replace(path=f"/{(db + 1) % 16}"))


def test_the_prefix_names_the_redis_database() -> None:
    db = urllib.parse.urlsplit(settings.REDIS_URL).path.strip("/") or "0"
    assert settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] == f"helpdesk:{db}:asgi"


@pytest.mark.asyncio
async def test_a_deployment_on_another_database_is_not_heard() -> None:
    ours = get_channel_layer()
    other_url = _other_database_url()
    other_db = urllib.parse.urlsplit(other_url).path.strip("/")
    theirs = RedisPubSubChannelLayer(hosts=[other_url], prefix=f"helpdesk:{other_db}:asgi")
    channel = await ours.new_channel()
    await ours.group_add("shop-1-agent-7", channel)
    try:
        await theirs.group_send("shop-1-agent-7", {"type": "event", "n": "theirs"})
        await ours.group_send("shop-1-agent-7", {"type": "event", "n": "ours"})
        first = await asyncio.wait_for(ours.receive(channel), timeout=5)
        assert first["n"] == "ours"
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ours.receive(channel), timeout=0.5)
    finally:
        await ours.group_discard("shop-1-agent-7", channel)
        await theirs.flush()
