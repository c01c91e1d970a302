"""Operations (SPEC I7; issue 12): Prometheus metrics at ``/metrics`` behind a bearer token, and
structured logs carrying each request's id."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import re

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from apps.conversations import lifecycle as conv
from apps.conversations.models import Conversation, State
from apps.shopdata.models import Buyer
from conftest import ShopKit

pytestmark = pytest.mark.django_db

TOKEN = "scrape-secret-1"


def _scrape(token: str | None = TOKEN) -> tuple[int, str]:
    client = APIClient()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    response = client.get("/metrics", **headers)
    return response.status_code, response.content.decode()


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition text (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}{{{re.escape(wanted)}}} (\S+)$" if labels else rf"^{name} (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_metrics_are_off_without_a_token_and_refuse_a_wrong_one(settings) -> None:  # type: ignore[no-untyped-def]
    settings.HELPDESK_METRICS_TOKEN = ""
    assert _scrape()[0] == 404
    settings.HELPDESK_METRICS_TOKEN = TOKEN
    assert _scrape("wrong")[0] == 401
    assert _scrape(None)[0] == 401
    assert _scrape()[0] == 200


def test_queue_length_per_shop_routing_decisions_and_request_latency(
    settings,  # type: ignore[no-untyped-def]
    shop_a: ShopKit,
    shop_b: ShopKit,
) -> None:
    settings.HELPDESK_METRICS_TOKEN = TOKEN
    from apps.conversations.lifecycle import agent_set_status
    from apps.routing.models import AgentStatus

    # given one agent online with room for one buyer, and three buyers asking for a human
    agent = shop_a.sub("agent", max_concurrent=1)
    agent_set_status(account=agent, status=AgentStatus.ONLINE)
    _, before = _scrape()
    assigned_before = _sample(
        before, "helpdesk_routing_decisions_total", outcome="assign", reason="rule"
    )
    for i in range(3):
        buyer = Buyer.objects.create(shop=shop_a.shop, external_id=f"b{i}")
        conv.request_human(conversation=conv.conversation_open(buyer=buyer))
    assert Conversation.objects.filter(shop=shop_a.shop, state=State.QUEUED).count() == 2
    shop_a.client().get("/api/v1/conversations/")

    # when Prometheus scrapes
    status, text = _scrape()
    assert status == 200
    # then the queue's length per shop is there, the other shop's too (0)
    assert _sample(text, "helpdesk_queue_length", shop=shop_a.shop.slug) == 2
    assert _sample(text, "helpdesk_queue_length", shop=shop_b.shop.slug) == 0
    # and the decisions written since, by outcome and reason
    after = _sample(text, "helpdesk_routing_decisions_total", outcome="assign", reason="rule")
    assert after == assigned_before + 1
    assert _sample(text, "helpdesk_routing_decisions_total", outcome="queue", reason="") >= 2
    # and the latency of the staff request by its route pattern (never the raw path)
    assert re.search(
        r'^helpdesk_http_request_seconds_count\{method="GET",route="[^"]*conversations[^"]*",'
        r'status="200"\} [1-9]',
        text,
        re.MULTILINE,
    ), text[:2000]


def test_every_answer_carries_a_request_id_and_the_log_lines_too(shop_a: ShopKit) -> None:
    # given the JSON log format of the Docker image, on a handler of our own
    stream = io.StringIO()
    config = django_settings.LOGGING
    handler = logging.StreamHandler(stream)
    from apps.core.logs import RequestIdFilter

    handler.addFilter(RequestIdFilter())
    formatter_config = dict(config["formatters"]["json"])
    factory = formatter_config.pop("()")
    module, _, name = factory.rpartition(".")
    formatter_class = getattr(__import__(module, fromlist=[name]), name)
    handler.setFormatter(formatter_class(**formatter_config))
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        # when a client sends its own id, and another request sends none (a 404 logs a warning)
        given = shop_a.client().get("/api/v1/conversations/999999/", HTTP_X_REQUEST_ID="trace-42")
        fresh = shop_a.client().get("/api/v1/conversations/999998/")
    finally:
        logger.removeHandler(handler)
    # then the answers carry the ids, the client's when it was sane
    assert given["X-Request-ID"] == "trace-42"
    assert re.fullmatch(r"[0-9a-f]{32}", fresh["X-Request-ID"])
    # and each log line is one JSON object with the id of the request that wrote it
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    ids = [line["request_id"] for line in lines]
    assert ids == ["trace-42", fresh["X-Request-ID"]], lines
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    # and an insane id (too long, odd characters) is replaced
    odd = shop_a.client().get("/api/v1/conversations/", HTTP_X_REQUEST_ID="x" * 65)
    assert odd["X-Request-ID"] != "x" * 65
