"""The silence tick run twice at once (two threads, each with its own database connection):
every due conversation closes once, with one notice (SPEC D5; DESIGN, timers)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection

from apps.automation import texts
from apps.conversations.lifecycle import timed as services
from apps.conversations.models import Conversation, Message, State
from apps.conversations.tasks import silence_timeouts
from apps.events.models import Event
from apps.shops.models import ShopSettings

pytestmark = pytest.mark.django_db(transaction=True)


def at_once(work: Callable[[], object], n: int = 2) -> list[object]:
    """Run ``work`` in ``n`` threads released together; each thread has its own connection."""
    barrier = threading.Barrier(n)
    results: list[object] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(work())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(results) == n
    return results


def closing_text(shop_id: int) -> str:
    return texts.buyer_close(ShopSettings.objects.select_related("shop").get(shop_id=shop_id))


def test_two_silence_ticks_at_once_close_a_silent_buyer_once_with_one_notice(clock, desk):
    # given a buyer silent for 5 minutes after the welcome
    desk.agent("a")
    c = desk.ask("b1")
    clock.shift(timedelta(minutes=5))
    # when two workers run the tick at the same moment
    results = at_once(silence_timeouts)
    # then the conversation closed once, with one closing notice and one rating request
    assert sorted(results) == [0, 1]
    c = desk.fresh(c)
    assert (c.state, c.close_reason) == (State.CLOSED, "buyer_silence")
    assert Message.objects.filter(conversation=c, body=closing_text(desk.shop_id)).count() == 1
    assert Message.objects.filter(conversation=c, kind="rating_request").count() == 1
    closed_events = Event.objects.filter(
        recipient_kind="buyer", recipient_id=c.buyer_id, type="conversation.closed"
    )
    assert closed_events.count() == 1


def test_the_close_service_twice_at_once_closes_once(clock, desk):
    # given the same due conversation handed to two workers (as a retried task would be)
    desk.agent("a")
    c = desk.ask("b1")
    clock.shift(timedelta(minutes=5))
    # when both call the service at once
    results = at_once(lambda: services.buyer_silence_close(conversation=c))
    # then the second one, after waiting for the lock, finds it closed and does nothing
    assert sorted(results) == [False, True]
    assert Message.objects.filter(conversation=c, body=closing_text(desk.shop_id)).count() == 1


def test_ticks_at_once_share_many_due_conversations_of_two_shops(clock, desk, desk_b):
    # given ten silent buyers in each of two shops
    for d in (desk, desk_b):
        d.settings(default_max_concurrent=10)
        d.agent("a")
        for i in range(10):
            d.ask(f"b{i}")
    clock.shift(timedelta(minutes=5))
    # when three workers tick at once
    results = at_once(silence_timeouts, n=3)
    # then each conversation closed exactly once, with one notice each (a shop busy with
    # another worker is left for the next tick, never waited for)
    silence_timeouts()
    convs = Conversation.objects.all()
    assert convs.count() == 20 and all(c.state == State.CLOSED for c in convs)
    assert sum(int(r) for r in results) <= 20  # type: ignore[call-overload]
    for c in convs:
        assert Message.objects.filter(conversation=c, body=closing_text(c.shop_id)).count() == 1
