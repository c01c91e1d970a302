"""What a process knows of a shop's webhooks (docs/integrations.md, "Cost on the hot paths"):
a change made in this process counts at once; one made by another process (which replaces the
Redis stamp when it commits) counts once what this process knew is older than a second."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from django.utils import timezone

from apps.integrations import subscriptions
from apps.integrations.models import Webhook

pytestmark = pytest.mark.django_db(transaction=True)

PUBLIC = "https://93.184.215.14/hook"


def other_process_makes(shop_id: int, events: list[str]) -> None:
    """Another process's webhook: its row, then (on commit) a new stamp."""
    Webhook.objects.create(
        shop_id=shop_id, url=PUBLIC, events=events, secret="s" * 64, created_at=timezone.now()
    )
    cache.set(subscriptions._stamp_key(shop_id), uuid.uuid4().hex, subscriptions.STAMP_TTL)


def test_a_change_in_this_process_counts_at_once(shop_a):
    assert subscriptions.subscribed(shop_a.shop.pk) == frozenset()
    made = shop_a.client().post(
        "/api/v1/webhooks/", {"url": PUBLIC, "events": ["message.created"]}, format="json"
    )
    assert subscriptions.subscribed(shop_a.shop.pk) == {"message.created"}
    shop_a.client().patch(
        f"/api/v1/webhooks/{made.json()['id']}/", {"is_active": False}, format="json"
    )
    assert subscriptions.subscribed(shop_a.shop.pk) == frozenset()


def test_another_process_change_counts_after_the_trust_window(shop_a, monkeypatch):
    shop_id = shop_a.shop.pk
    assert subscriptions.subscribed(shop_id) == frozenset()
    other_process_makes(shop_id, ["conversation.closed"])
    # within the window, what was known stands (no Redis read)
    assert subscriptions.subscribed(shop_id) == frozenset()
    # after it, the new stamp makes the process read the shop's webhooks again
    monkeypatch.setattr(subscriptions, "TRUST_SECONDS", 0.0)
    assert subscriptions.subscribed(shop_id) == {"conversation.closed"}


def test_a_lost_stamp_is_made_again_and_the_table_read(shop_a, monkeypatch):
    monkeypatch.setattr(subscriptions, "TRUST_SECONDS", 0.0)
    shop_id = shop_a.shop.pk
    assert subscriptions.subscribed(shop_id) == frozenset()
    Webhook.objects.create(
        shop_id=shop_id,
        url=PUBLIC,
        events=["message.created"],
        secret="s",
        created_at=timezone.now(),
    )
    cache.delete(subscriptions._stamp_key(shop_id))  # expired (or Redis restarted)
    assert subscriptions.subscribed(shop_id) == {"message.created"}


def test_redis_unreadable_keeps_what_is_known(shop_a, monkeypatch):
    monkeypatch.setattr(subscriptions, "TRUST_SECONDS", 0.0)
    shop_id = shop_a.shop.pk
    assert subscriptions.subscribed(shop_id) == frozenset()

    def down(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(cache, "get", down)
    assert subscriptions.subscribed(shop_id) == frozenset()
