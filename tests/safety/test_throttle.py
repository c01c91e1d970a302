"""SPEC I6: the per-buyer message rate (``THROTTLE_BUYER_MESSAGES``) over REST: 429 with
``Retry-After``, nothing stored, counted per shop and buyer (the socket: test_sockets.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from apps.conversations.models import Message, Sender
from apps.safety.throttle import parse_rate

from .conftest import serve

pytestmark = pytest.mark.django_db

# The start of a minute: the window's edge is known.
T0 = datetime(2025, 6, 2, 2, 0, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _three_a_minute(settings):
    settings.THROTTLE_BUYER_MESSAGES = "3/min"


def buyer_messages() -> int:
    return Message.objects.filter(sender=Sender.BUYER).count()


def test_the_fourth_message_in_a_minute_is_refused_with_retry_after(shop_a, shop_b):
    with time_machine.travel(T0, tick=False):
        chat = serve(shop_a)
        other = serve(shop_a, "b-2")
        foreign = serve(shop_b)
        for n in range(3):
            assert chat.buyer_writes(f"m{n}").status_code == 201
        stored = buyer_messages()
    with time_machine.travel(T0 + timedelta(seconds=20), tick=False):
        refused = chat.buyer_writes("m3", client_id="c-3")
        assert refused.status_code == 429
        assert refused["Retry-After"] == "40"
        assert refused.json()["retry_after"] == 40
        assert "too fast" in refused.json()["detail"]
        assert buyer_messages() == stored  # nothing stored
        # another buyer of the shop, and the same external id in another shop, are not slowed
        assert other.buyer_writes("hi").status_code == 201
        assert foreign.buyer_writes("hi").status_code == 201
    with time_machine.travel(T0 + timedelta(seconds=61), tick=False):
        assert chat.buyer_writes("m3", client_id="c-3").status_code == 201


def test_images_count_too(shop_a):
    with time_machine.travel(T0, tick=False):
        chat = serve(shop_a)
        for n in range(3):
            assert chat.buyer_writes(f"m{n}").status_code == 201
        response = chat.buyer.post(
            "/api/v1/widget/conversation/images/", {"image": b"not an image"}, format="multipart"
        )
        assert response.status_code == 429


def test_rates_read_like_drfs():
    assert parse_rate("20/min") == parse_rate("20/m")
    assert (parse_rate("20/min").limit, parse_rate("20/min").seconds) == (20, 60)
    assert parse_rate("5/s").seconds == 1 and parse_rate("600/hour").seconds == 3600
    assert parse_rate("0").limit == 0
