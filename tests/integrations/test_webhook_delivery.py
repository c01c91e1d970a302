"""Webhook deliveries against a real HTTP receiver on 127.0.0.1 (SPEC H4; API.md, "webhooks";
issue 12, must show 2): the lifecycle's events reach the shop's endpoint as documented and
signed, a failure is retried with the same delivery id on the documented schedule (the clock
moved by time-machine, the task functions run in-process, the Celery calls caught), a success
is never sent again, an endpoint whose last 8 events failed is switched off with the reason, and
the address rules hold at delivery too (after resolving the host; no redirect followed).

A real Celery worker delivering and retrying: test_webhook_worker.py."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import transaction

from apps.accounts.models import Account
from apps.accounts.permissions import Perm
from apps.audit.models import AuditEntry
from apps.conversations import lifecycle
from apps.conversations.lifecycle import agent_set_status
from apps.conversations.models import Conversation, State
from apps.events.models import Event
from apps.integrations import delivery, subscriptions, tasks
from apps.integrations.models import DeliveryState, Webhook, WebhookAttempt, WebhookDelivery
from apps.integrations.scrape import WebhookCollector
from apps.routing.models import AgentState, AgentStatus
from apps.shopdata.models import Buyer
from conftest import ShopKit
from tests.integrations.conftest import Answer, Queued, Receiver, shop_verifies

pytestmark = pytest.mark.usefixtures("fast_password_hasher")

T0 = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai: business hours
ALL = [
    "conversation.assigned",
    "conversation.queued",
    "conversation.transferred",
    "conversation.closed",
    "message.created",
    "conversation.rated",
]


def make_webhook(kit: ShopKit, url: str, events: list[str]) -> dict[str, Any]:
    response = kit.client().post("/api/v1/webhooks/", {"url": url, "events": events}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def online_agent(kit: ShopKit, name: str = "a", max_concurrent: int = 5) -> Account:
    agent = kit.sub(name, {Perm.CHAT})
    AgentState.objects.filter(account=agent).update(max_concurrent=max_concurrent)
    agent_set_status(account=agent, status=AgentStatus.ONLINE)
    return agent


def ask(kit: ShopKit, buyer_id: str) -> Conversation:
    buyer = Buyer.objects.create(shop=kit.shop, external_id=buyer_id, name=f"buyer {buyer_id}")
    return lifecycle.request_human(conversation=lifecycle.conversation_open(buyer=buyer))


def bodies(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.received]


# ---------------------------------------------------------------------------------------------
# What is sent


def test_a_buyer_message_reaches_the_webhook_signed_as_documented(
    shop_a, receiver, allow_private, queued, django_capture_on_commit_callbacks
):
    # given a webhook taking message.created, and a buyer served by an agent
    hook = make_webhook(shop_a, receiver.url(), ["message.created"])
    online_agent(shop_a)
    conversation = ask(shop_a, "b-1")
    assert conversation.state == State.ACTIVE
    queued.events.clear()  # the welcome's
    # when the buyer writes, and the transaction commits
    with django_capture_on_commit_callbacks(execute=True):
        message, _created = lifecycle.buyer_message_send(
            buyer=conversation.buyer, entrance="", body="这双鞋有42码吗？"
        )
    # then one event went to the worker, which makes one delivery and sends it
    (delivery_id,) = queued.fan_out()
    assert delivery.delivery_attempt(delivery_id=delivery_id).delivered
    (request,) = receiver.received
    # with the documented headers, and a signature that verifies as a shop would check it
    assert request.path == "/hook"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-helpdesk-event"] == "message.created"
    assert shop_verifies(hook["secret"], request)
    assert not shop_verifies("another secret", request)
    body = json.loads(request.body)
    assert set(body) == {"id", "type", "created_at", "shop", "data"}
    assert body["id"] == request.headers["x-helpdesk-delivery"]
    assert (body["type"], body["shop"]) == ("message.created", "shop-a")
    datetime.fromisoformat(body["created_at"])
    # and data is the socket event's payload, as the buyer's socket got it
    socket_event = Event.objects.get(
        type="message.created", recipient_kind="buyer", payload__id=message.pk
    )
    assert body["data"] == socket_event.payload
    assert (
        body["data"]["body"] == "这双鞋有42码吗？"
        and body["data"]["conversation"] == conversation.pk
    )


def test_each_event_type_reaches_the_webhooks_that_take_it(
    shop_a, receiver, allow_private, queued, django_capture_on_commit_callbacks
):
    # given one webhook taking every type and one taking only closes
    make_webhook(shop_a, receiver.url("/all"), ALL)
    make_webhook(shop_a, receiver.url("/closed"), ["conversation.closed"])
    first = online_agent(shop_a, "a", max_concurrent=1)
    second = online_agent(shop_a, "b", max_concurrent=1)
    with django_capture_on_commit_callbacks(execute=True):
        held = ask(shop_a, "b-1")  # assigned, welcomed
        ask(shop_a, "b-2")  # the other agent
        waiting = ask(shop_a, "b-3")  # both full: queued
        assert waiting.state == State.QUEUED
        lifecycle.conversation_transfer(  # (the slot it frees takes the waiting buyer)
            conversation=held, actor=Account.objects.get(pk=held.agent_id), to_account=second
        )
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.conversation_close(conversation=held, actor=None)
        lifecycle.conversation_rate(buyer=held.buyer, score=5, comment="很好")
    assert first.pk != second.pk
    # when the worker runs the fan-outs and the attempts
    for delivery_id in queued.fan_out():
        assert delivery.delivery_attempt(delivery_id=delivery_id).delivered
    by_path: dict[str, list[dict[str, Any]]] = {}
    for request in receiver.received:
        by_path.setdefault(request.path, []).append(json.loads(request.body))
    types = {b["type"] for b in by_path["/all"]}
    # then every documented type arrived at the first, only closes at the second
    assert types == set(ALL)
    assert {b["type"] for b in by_path["/closed"]} == {"conversation.closed"}
    # and one event is one id for both webhooks
    closed_ids = {
        b["id"] for path in by_path for b in by_path[path] if b["type"] == "conversation.closed"
    }
    assert len(closed_ids) == len(
        [b for b in by_path["/closed"] if b["type"] == "conversation.closed"]
    )
    queued_body = next(b for b in by_path["/all"] if b["type"] == "conversation.queued")
    assert queued_body["data"]["id"] == waiting.pk and queued_body["data"]["state"] == "queued"
    transferred = next(b for b in by_path["/all"] if b["type"] == "conversation.transferred")
    assert transferred["data"]["transfer"]["from_account"] == first.pk
    rated = next(b for b in by_path["/all"] if b["type"] == "conversation.rated")
    assert rated["data"]["id"] == held.pk
    assert rated["data"]["rating"] == {"score": 5, "comment": "很好"}
    # the data of each conversation event is the socket event's
    assigned = [b for b in by_path["/all"] if b["type"] == "conversation.assigned"]
    for body in assigned:
        stored = Event.objects.filter(
            type="conversation.assigned", payload__id=body["data"]["id"]
        ).values_list("payload", flat=True)
        assert body["data"] in list(stored)


def test_a_queued_buyer_is_one_queued_event_however_often_its_conversation_moves(
    shop_a, receiver, allow_private, queued, django_capture_on_commit_callbacks
):
    make_webhook(shop_a, receiver.url(), ["conversation.queued"])
    online_agent(shop_a, "a", max_concurrent=1)
    ask(shop_a, "b-1")
    with django_capture_on_commit_callbacks(execute=True):
        waiting = ask(shop_a, "b-2")
        lifecycle.capacity_changed(shop_id=shop_a.shop.pk)  # decided again: still waiting
    assert Conversation.objects.get(pk=waiting.pk).state == State.QUEUED
    assert [e["type"] for _shop, e in queued.events] == ["conversation.queued"]


def test_a_rolled_back_event_goes_nowhere(shop_a, receiver, allow_private, queued):
    make_webhook(shop_a, receiver.url(), ["message.created"])
    online_agent(shop_a)
    conversation = ask(shop_a, "b-1")
    queued.events.clear()
    with pytest.raises(RuntimeError), transaction.atomic():
        lifecycle.buyer_message_send(buyer=conversation.buyer, entrance="", body="lost")
        raise RuntimeError("rolled back")
    assert queued.events == []


# ---------------------------------------------------------------------------------------------
# Retries


def _one_delivery(
    kit: ShopKit, receiver: Receiver, queued: Queued, capture: Any
) -> tuple[dict, int]:
    hook = make_webhook(kit, receiver.url(), ["conversation.closed"])
    online_agent(kit)
    conversation = ask(kit, "b-1")
    with capture(execute=True):
        lifecycle.conversation_close(conversation=conversation, actor=None)
    (delivery_id,) = queued.fan_out()
    return hook, delivery_id


def test_a_500_is_retried_with_the_same_delivery_id_and_a_success_is_never_sent_again(
    shop_a, receiver, allow_private, queued, django_capture_on_commit_callbacks
):
    # issue 12, must show 2
    receiver.answer(500, 200)
    with time_machine.travel(T0, tick=False) as clock:
        hook, delivery_id = _one_delivery(
            shop_a, receiver, queued, django_capture_on_commit_callbacks
        )
        # when the worker's task makes the first attempt and the endpoint answers 500
        tasks.webhook_deliver(delivery_id)
        assert len(receiver.received) == 1
        # then the next attempt is queued for 30 s later (HELPDESK_WEBHOOK_RETRY_BASE_SECONDS)
        assert queued.attempts == [(delivery_id, 30.0)]
        assert WebhookDelivery.objects.get(pk=delivery_id).next_attempt_at == T0 + timedelta(
            seconds=30
        )
        # and a run before then (a duplicate task, the sweep) sends nothing
        clock.shift(timedelta(seconds=29))
        tasks.webhook_deliver(delivery_id)
        tasks.webhooks_due()
        assert len(receiver.received) == 1
        # when it is due, the retry carries the same delivery id, freshly signed
        clock.shift(timedelta(seconds=1))
        tasks.webhook_deliver(delivery_id)
        first, second = receiver.received
        assert first.headers["x-helpdesk-delivery"] == second.headers["x-helpdesk-delivery"]
        assert first.body == second.body
        assert second.headers["x-helpdesk-timestamp"] == str(
            int((T0 + timedelta(seconds=30)).timestamp())
        )
        assert shop_verifies(hook["secret"], first) and shop_verifies(hook["secret"], second)
        assert (first.headers["x-helpdesk-attempt"], second.headers["x-helpdesk-attempt"]) == (
            "1",
            "2",
        )
        # then, answered 2xx, it is never sent again: not by a task, not by the sweep
        assert WebhookDelivery.objects.get(pk=delivery_id).state == DeliveryState.DELIVERED
        assert queued.attempts == [(delivery_id, 30.0)]
        clock.shift(timedelta(hours=2))
        tasks.webhook_deliver(delivery_id)
        tasks.webhooks_due()
        assert len(receiver.received) == 2
    # and the delivery log shows both attempts, newest first
    log = shop_a.client().get(f"/api/v1/webhooks/{hook['id']}/deliveries/").json()
    assert log["count"] == 2
    newest, oldest = log["results"]
    assert set(newest) == {
        "event",
        "type",
        "attempt",
        "status_code",
        "error",
        "created_at",
        "delivered",
    }
    assert (newest["attempt"], newest["status_code"], newest["delivered"]) == (2, 200, True)
    assert (oldest["attempt"], oldest["status_code"], oldest["delivered"]) == (1, 500, False)
    assert oldest["error"] == "HTTP 500" and newest["event"] == first.headers["x-helpdesk-delivery"]
    assert newest["type"] == "conversation.closed"


def test_retries_double_from_the_base_and_stop_after_eight_attempts(
    shop_a, receiver, allow_private, queued, django_capture_on_commit_callbacks, settings
):
    settings.HELPDESK_WEBHOOK_RETRY_BASE_SECONDS = 30
    receiver.default = Answer(503)
    with time_machine.travel(T0, tick=False) as clock:
        _hook, delivery_id = _one_delivery(
            shop_a, receiver, queued, django_capture_on_commit_callbacks
        )
        delays = []
        for _attempt in range(8):
            tasks.webhook_deliver(delivery_id)
            row = WebhookDelivery.objects.get(pk=delivery_id)
            if row.next_attempt_at is None:
                break
            delay = row.next_attempt_at - datetime.now(UTC)
            delays.append(delay.total_seconds())
            clock.shift(delay)
        # the retries wait 30 s, then twice as long each time: 8 attempts in all
        assert delays == [30, 60, 120, 240, 480, 960, 1920]
        assert len(receiver.received) == 8
        assert WebhookDelivery.objects.get(pk=delivery_id).state == DeliveryState.FAILED
        # retries within 15 minutes wait in the broker; the later ones are the sweep's
        assert [countdown for _d, countdown in queued.attempts] == [30, 60, 120, 240, 480]
        # and nothing is sent after the eighth
        clock.shift(timedelta(days=1))
        tasks.webhook_deliver(delivery_id)
        tasks.webhooks_due()
        assert len(receiver.received) == 8
    assert sorted(WebhookAttempt.objects.values_list("number", flat=True)) == list(range(1, 9))


def test_the_sweep_sends_an_attempt_whose_task_was_lost(
    shop_a, receiver, allow_private, queued, django_capture_on_commit_callbacks
):
    receiver.answer(500)
    with time_machine.travel(T0, tick=False) as clock:
        _hook, delivery_id = _one_delivery(
            shop_a, receiver, queued, django_capture_on_commit_callbacks
        )
        tasks.webhook_deliver(delivery_id)
        queued.attempts.clear()  # the countdown task is lost (broker restarted)
        clock.shift(timedelta(seconds=30 + 59))
        tasks.webhooks_due()
        assert queued.attempts == []  # not late enough to be thought lost
        clock.shift(timedelta(seconds=2))
        tasks.webhooks_due()
        assert queued.attempts == [(delivery_id, 0)]


def test_a_timeout_and_a_refused_connection_are_failures_retried(
    shop_a, receiver, allow_private, queued, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(delivery, "TIMEOUT_SECONDS", 0.3)
    receiver.answer(Answer(200, delay=1.0))
    hook, delivery_id = _one_delivery(shop_a, receiver, queued, django_capture_on_commit_callbacks)
    outcome = delivery.delivery_attempt(delivery_id=delivery_id)
    assert not outcome.delivered and outcome.retry_at is not None
    assert WebhookAttempt.objects.get().error == "timeout after 0.3 s"
    # a port nobody listens on
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    Webhook.objects.filter(pk=hook["id"]).update(url=f"http://127.0.0.1:{port}/hook")
    with time_machine.travel(outcome.retry_at + timedelta(seconds=1), tick=False):
        again = delivery.delivery_attempt(delivery_id=delivery_id)
    assert again.attempted and not again.delivered
    attempt = WebhookAttempt.objects.get(number=2)
    assert attempt.status_code is None and attempt.error.startswith("ConnectError")


# ---------------------------------------------------------------------------------------------
# Switched off after failing


def test_an_endpoint_whose_last_eight_events_all_failed_is_switched_off_with_the_reason(
    shop_a, receiver, allow_private, queued, django_capture_on_commit_callbacks
):
    hook = make_webhook(shop_a, receiver.url(), ["message.created"])
    online_agent(shop_a)
    conversation = ask(shop_a, "b-1")
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(10):
            lifecycle.buyer_message_send(buyer=conversation.buyer, entrance="", body=f"m{n}")
    queued.events = [e for e in queued.events if json.loads(e[1]["data"])["body"].startswith("m")]
    deliveries = queued.fan_out()
    assert len(deliveries) == 10
    receiver.default = Answer(500)
    receiver.answer(200)  # the first event succeeds
    with (
        time_machine.travel(datetime.now(UTC), tick=False) as clock,
        django_capture_on_commit_callbacks(execute=True),  # the switch-off announced
    ):
        for delivery_id in deliveries[:9]:  # one success, then 8 events fail 8 times each
            for _attempt in range(8):
                outcome = delivery.delivery_attempt(delivery_id=delivery_id)
                if outcome.retry_at is None:
                    break
                clock.shift(outcome.retry_at - datetime.now(UTC))
            if delivery_id != deliveries[8]:
                assert Webhook.objects.get(pk=hook["id"]).is_active, "too early"
        # then the eighth failed event switched it off, with the reason
        webhook = Webhook.objects.get(pk=hook["id"])
        assert webhook.is_active is False
        assert "8" in webhook.disabled_reason and "HTTP 500" in webhook.disabled_reason
        # and the tenth, still pending, is not sent: cancelled
        assert WebhookDelivery.objects.get(pk=deliveries[9]).state == DeliveryState.CANCELLED
        sent = len(receiver.received)
        clock.shift(timedelta(hours=1))
        delivery.delivery_attempt(delivery_id=deliveries[9])
        tasks.webhooks_due()
        assert len(receiver.received) == sent == 1 + 8 * 8
    # the main account sees why: the API, the audit log
    answer = shop_a.client().get(f"/api/v1/webhooks/{hook['id']}/").json()
    assert answer["is_active"] is False and answer["disabled_reason"] == webhook.disabled_reason
    entry = AuditEntry.objects.get(action="webhook.disabled")
    assert entry.actor_kind == "system" and entry.target_id == str(hook["id"])
    # and no new event goes to it
    assert "message.created" not in subscriptions.subscribed(shop_a.shop.pk)
    # switching it back on clears the reason
    shop_a.client().patch(f"/api/v1/webhooks/{hook['id']}/", {"is_active": True}, format="json")
    assert Webhook.objects.get(pk=hook["id"]).disabled_reason == ""


def test_the_reason_is_in_the_shops_language(
    shop_a, receiver, allow_private, queued, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(delivery, "MAX_ATTEMPTS", 1)
    monkeypatch.setattr(delivery, "DISABLE_AFTER", 1)
    shop_a.shop.settings.language = "en"
    shop_a.shop.settings.save()
    receiver.default = Answer(404)
    _hook, delivery_id = _one_delivery(shop_a, receiver, queued, django_capture_on_commit_callbacks)
    assert delivery.delivery_attempt(delivery_id=delivery_id).gave_up
    reason = Webhook.objects.get().disabled_reason
    assert reason.startswith("Switched off: the last 1 events could not be delivered")
    assert reason.endswith("Last error: HTTP 404")


# ---------------------------------------------------------------------------------------------
# Where it may send


def test_a_redirect_is_not_followed(
    shop_a, receiver, allow_private, queued, django_capture_on_commit_callbacks
):
    receiver.answer(Answer(302, {"Location": receiver.url("/elsewhere")}))
    _hook, delivery_id = _one_delivery(shop_a, receiver, queued, django_capture_on_commit_callbacks)
    outcome = delivery.delivery_attempt(delivery_id=delivery_id)
    assert not outcome.delivered and outcome.retry_at is not None
    assert [r.path for r in receiver.received] == ["/hook"]
    assert WebhookAttempt.objects.get().error == "HTTP 302"


def test_a_loopback_address_is_refused_at_delivery_without_the_setting(
    shop_a, receiver, allow_private, queued, django_capture_on_commit_callbacks, settings
):
    # given a webhook made while private addresses were allowed
    _hook, delivery_id = _one_delivery(shop_a, receiver, queued, django_capture_on_commit_callbacks)
    # when the setting is off at delivery
    settings.HELPDESK_WEBHOOKS_ALLOW_PRIVATE = False
    outcome = delivery.delivery_attempt(delivery_id=delivery_id)
    # then nothing is sent, and the attempt says why
    assert outcome.attempted and not outcome.delivered
    assert receiver.received == []
    assert "127.0.0.1" in WebhookAttempt.objects.get().error


def test_the_host_is_resolved_again_at_delivery_and_the_checked_address_is_used(
    shop_a,
    receiver,
    allow_private,
    queued,
    django_capture_on_commit_callbacks,
    settings,
    monkeypatch,
):
    # given a name that resolved to a public address when the webhook was made
    real = socket.getaddrinfo
    answers = {"erp.shop.example": "93.184.215.14"}

    def resolve(host, port, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    settings.HELPDESK_WEBHOOKS_ALLOW_PRIVATE = False
    url = f"http://erp.shop.example:{receiver.port}/hook"
    make_webhook(shop_a, url, ["conversation.closed"])
    online_agent(shop_a)
    conversation = ask(shop_a, "b-1")
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.conversation_close(conversation=conversation, actor=None)
    (delivery_id,) = queued.fan_out()
    # when it resolves to loopback at delivery (DNS rebinding)
    answers["erp.shop.example"] = "127.0.0.1"
    outcome = delivery.delivery_attempt(delivery_id=delivery_id)
    # then the attempt is refused without connecting
    assert not outcome.delivered and receiver.received == []
    assert "127.0.0.1" in WebhookAttempt.objects.get().error
    # and where private addresses are allowed, the request goes to the address checked, with
    # the name in Host
    settings.HELPDESK_WEBHOOKS_ALLOW_PRIVATE = True
    with time_machine.travel(outcome.retry_at + timedelta(seconds=1), tick=False):
        assert delivery.delivery_attempt(delivery_id=delivery_id).delivered
    (request,) = receiver.received
    assert request.headers["host"] == f"erp.shop.example:{receiver.port}"


def test_a_deleted_or_switched_off_webhook_gets_nothing_more(
    shop_a, receiver, allow_private, queued, django_capture_on_commit_callbacks
):
    hook, delivery_id = _one_delivery(shop_a, receiver, queued, django_capture_on_commit_callbacks)
    shop_a.client().patch(f"/api/v1/webhooks/{hook['id']}/", {"is_active": False}, format="json")
    assert not delivery.delivery_attempt(delivery_id=delivery_id).attempted
    assert WebhookDelivery.objects.get(pk=delivery_id).state == DeliveryState.CANCELLED
    assert receiver.received == []


def test_a_repeated_fan_out_makes_no_second_delivery(
    shop_a, receiver, allow_private, queued, django_capture_on_commit_callbacks
):
    make_webhook(shop_a, receiver.url(), ["conversation.closed"])
    online_agent(shop_a)
    conversation = ask(shop_a, "b-1")
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.conversation_close(conversation=conversation, actor=None)
    ((shop_id, event),) = queued.events
    first = delivery.event_fan_out(shop_id=shop_id, event=event)
    again = delivery.event_fan_out(shop_id=shop_id, event=event)  # the task ran twice
    assert first == again and WebhookDelivery.objects.count() == 1
    tasks.webhook_deliver(first[0])
    assert delivery.event_fan_out(shop_id=shop_id, event=event) == []
    assert len(receiver.received) == 1


def test_metrics_read_the_failures_per_shop(
    shop_a, receiver, allow_private, queued, django_capture_on_commit_callbacks
):
    # SPEC I7: /metrics reads webhook failures from the delivery log when scraped
    receiver.answer(500)
    _hook, delivery_id = _one_delivery(shop_a, receiver, queued, django_capture_on_commit_callbacks)
    delivery.delivery_attempt(delivery_id=delivery_id)
    samples = {
        family.name: {tuple(s.labels.values()): s.value for s in family.samples}
        for family in WebhookCollector().collect()
    }
    assert samples["helpdesk_webhook_failed_attempts_1h"] == {("shop-a",): 1}
    assert samples["helpdesk_webhook_retries_waiting"] == {("shop-a",): 1}
    assert samples["helpdesk_webhooks_switched_off"] == {("shop-a",): 0}
