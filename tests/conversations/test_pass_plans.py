"""The routing pass's reads as PostgreSQL keeps them prepared (issue 8, short critical sections):
psycopg prepares a statement on its fifth run on a connection, and PostgreSQL may then keep one
generic plan for any parameters. Under the shop's lock a bad one costs every waiting request."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from apps.conversations.lifecycle.transitions import _PENDING_REQUESTS
from apps.conversations.models import Conversation, State
from apps.shopdata.models import Buyer

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_pending_requests_generic_plan_uses_the_partial_index(desk) -> None:  # type: ignore[no-untyped-def]
    # given the routing pass's read of the pending requests as psycopg keeps it prepared (a
    # generic plan: PostgreSQL plans it once for any shop)
    # of a shop with a history: 2,000 finished conversations that once asked for a human, one
    # buyer waiting now, the table analysed as autovacuum would
    desk.agent("a")
    desk.ask("b1")
    now = timezone.now()
    buyers = Buyer.objects.bulk_create(
        (Buyer(shop_id=desk.shop_id, external_id=f"old-{n}") for n in range(2000)), batch_size=500
    )
    Conversation.objects.bulk_create(
        (
            Conversation(
                shop_id=desk.shop_id,
                buyer=buyer,
                state=State.CLOSED,
                human_requested_at=now - timedelta(days=1, minutes=n),
                closed_at=now - timedelta(days=1),
            )
            for n, buyer in enumerate(buyers)
        ),
        batch_size=500,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE conversations_conversation")
    with transaction.atomic():
        sql, params = _PENDING_REQUESTS.statement(shop_id=desk.shop_id)
        numbers = iter(range(1, len(params) + 1))
        numbered = re.sub(r"(?<!%)%s", lambda _m: f"${next(numbers)}", sql).replace("%%", "%")
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            cursor.execute(f"PREPARE pending_plan AS {numbered}")
            cursor.execute(f"EXPLAIN EXECUTE pending_plan({', '.join(['NULL'] * len(params))})")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            cursor.execute("DEALLOCATE pending_plan")
    # then it reads the shop's pending requests through a partial index: the state is
    # written out, not a parameter (with it as one, PostgreSQL planned the read again on every
    # pass, or kept a generic plan that scanned the shop's conversations, under the shop's lock)
    # (or the unique index of open conversations, also partial): never the shop's history
    main = next(line for line in plan.splitlines() if "on conversations_conversation " in line)
    assert "conversation_pending_idx" in main or "conversation_one_open_per_buyer" in main, plan
    assert "Seq Scan on conversations_conversation " not in plan, plan
