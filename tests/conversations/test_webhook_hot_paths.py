"""Webhooks cost the hot paths nothing when the shop has none (SPEC H4; issue 12;
docs/integrations.md, "Cost on the hot paths"). test_query_counts.py pins the hot paths' query
counts; this checks where the webhook hook could add to them: once the process knows the shop
takes no event, an event registers no on-commit callback and touches neither Redis nor the
database; when what it knows is older than a second, the check after commit reads one Redis
stamp and no table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.db import transaction

from apps.conversations import lifecycle
from apps.conversations.models import Conversation, State
from apps.integrations import publish, subscriptions
from tests.conversations.conftest import Desk

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)  # business hours in Shanghai (see test_query_counts)


@pytest.fixture(autouse=True)
def _business_hours() -> Iterator[None]:
    with time_machine.travel(T0, tick=True):
        yield


class Spy:
    def __init__(self) -> None:
        self.callbacks = 0  # on-commit callbacks the webhook hook registered
        self.stamps = 0  # Redis reads of the stamp
        self.loads = 0  # database reads of the shop's webhooks


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    seen = Spy()
    on_commit, stamp, load = transaction.on_commit, subscriptions._stamp, subscriptions._load

    class Transaction:
        @staticmethod
        def on_commit(func: Any, robust: bool = False) -> None:
            seen.callbacks += 1
            on_commit(func, robust=robust)

    def counted_stamp(shop_id: int) -> Any:
        seen.stamps += 1
        return stamp(shop_id)

    def counted_load(shop_id: int) -> Any:
        seen.loads += 1
        return load(shop_id)

    monkeypatch.setattr(publish, "transaction", Transaction)
    monkeypatch.setattr(subscriptions, "_stamp", counted_stamp)
    monkeypatch.setattr(subscriptions, "_load", counted_load)
    subscriptions.forget_all()
    return seen


def _hot_paths(desk: Desk, n: int) -> None:
    """A request for a human (assigned, or queued), a buyer's message, a close that dispatches."""
    conversation = desk.ask(f"hot{n}")
    if conversation.state == State.ACTIVE:
        lifecycle.buyer_message_send(buyer=conversation.buyer, entrance="", body="hello?")
    held = Conversation.objects.filter(shop_id=desk.shop_id, state=State.ACTIVE).first()
    assert held is not None
    lifecycle.conversation_close(conversation=held, actor=None)


def test_a_shop_without_webhooks_pays_nothing_once_known(
    desk: Desk, spy: Spy, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        desk.agent(f"a{n}", max_concurrent=1)
    # the first event of the shop in this process: after commit, a stamp and one read
    desk.ask("first")
    assert spy.loads == 1
    assert subscriptions.subscribed(desk.shop_id) == frozenset()
    # while that is fresh, the hot paths' events cost nothing: no callback, no Redis, no query
    monkeypatch.setattr(subscriptions, "TRUST_SECONDS", 3600.0)
    before = (spy.callbacks, spy.stamps, spy.loads)
    for n in range(3):
        _hot_paths(desk, n)
    assert (spy.callbacks, spy.stamps, spy.loads) == before


def test_when_what_is_known_is_old_only_the_redis_stamp_is_read(
    desk: Desk, spy: Spy, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        desk.agent(f"a{n}", max_concurrent=1)
    desk.ask("first")
    assert spy.loads == 1
    # every check is stale: each event checks after commit, by the stamp alone
    monkeypatch.setattr(subscriptions, "TRUST_SECONDS", 0.0)
    for n in range(3):
        _hot_paths(desk, n)
    assert spy.callbacks > 0 and spy.stamps > 0
    assert spy.loads == 1  # the stamp did not change: no table read
