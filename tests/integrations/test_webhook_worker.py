"""A real Celery worker delivers a conversation event to a real HTTP receiver and retries it
(SPEC H4; issue 12, must show 2): the endpoint answers 500, the worker tries again after the
configured base (1 s here) with the same delivery id, the receiver verifies both signatures as
documented, the 200 ends the delivery and nothing is sent again.

The worker is a subprocess on this test's database (committed data: ``transaction=True``) and
Redis database (its broker is this process's), started as tests/ops/test_celery_automation.py
does; every wait is bounded and the worker's process group is killed at the end."""

from __future__ import annotations

import os

import pytest
import redis
from django.conf import settings

from apps.accounts.permissions import Perm
from apps.conversations import lifecycle
from apps.conversations.lifecycle import agent_set_status
from apps.integrations import delivery
from apps.integrations.models import DeliveryState, WebhookDelivery
from apps.routing.models import AgentStatus
from apps.shopdata.models import Buyer
from tests.integrations.conftest import Receiver, shop_verifies
from tests.ops.launcher import wait_for
from tests.ops.test_celery_automation import _database_url, celery

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_worker_retries_a_500_with_the_same_delivery_id_then_stops(
    shop_a, receiver: Receiver, allow_private, tmp_path
):
    # given a webhook on the receiver, which answers 500 once, then 200
    receiver.answer(500)
    made = shop_a.client().post(
        "/api/v1/webhooks/",
        {"url": receiver.url("/helpdesk"), "events": ["conversation.closed"]},
        format="json",
    )
    assert made.status_code == 201, made.content
    secret = made.json()["secret"]
    agent = shop_a.sub("a", {Perm.CHAT})
    agent_set_status(account=agent, status=AgentStatus.ONLINE)
    buyer = Buyer.objects.create(shop=shop_a.shop, external_id="b-1")
    conversation = lifecycle.request_human(conversation=lifecycle.conversation_open(buyer=buyer))
    # and a worker on this broker, retrying after 1 s, allowed to reach 127.0.0.1
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("celery", "unacked", "unacked_index")  # no stale task of another test
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HELPDESK_EMBEDDED", "DJANGO_ENV") and not k.startswith("PYTEST_")
    }
    env.update(
        DATABASE_URL=_database_url(),
        REDIS_URL=settings.REDIS_URL,
        HELPDESK_WEBHOOKS_ALLOW_PRIVATE="1",
        HELPDESK_WEBHOOK_RETRY_BASE_SECONDS="1",
        PYTHONUNBUFFERED="1",
    )
    args = ["--pool=solo", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    with celery("worker", args, env, tmp_path / "worker.log") as log:
        wait_for("the worker", lambda: "ready." in log.read_text(errors="replace"), 60, log)
        # when the conversation closes (committed: the event goes to the broker)
        lifecycle.conversation_close(conversation=conversation, actor=None)
        # then the receiver gets the event twice: the 500, then the retry a second later
        assert receiver.wait_for(2, 30), log.read_text(errors="replace")[-3000:]

        def finished() -> bool:
            return WebhookDelivery.objects.get().state != DeliveryState.PENDING

        wait_for("the delivery recorded", finished, 15, log)
    first, second = receiver.received
    assert first.headers["x-helpdesk-delivery"] == second.headers["x-helpdesk-delivery"]
    assert first.body == second.body
    assert shop_verifies(secret, first) and shop_verifies(secret, second)
    assert first.headers["x-helpdesk-event"] == "conversation.closed"
    row = WebhookDelivery.objects.get()
    assert (row.state, row.attempts) == (DeliveryState.DELIVERED, 2)
    assert str(row.event_id) == first.headers["x-helpdesk-delivery"]
    # a 2xx is never delivered again
    assert not delivery.delivery_attempt(delivery_id=row.pk).attempted
    assert len(receiver.received) == 2
