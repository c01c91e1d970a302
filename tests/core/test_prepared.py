"""Querysets compiled once and run with new values (apps.core.prepared; issue 8, short critical
sections): the same rows and instances as Django's own evaluation, one query, each shop's rows
only, and a clear refusal of querysets whose SQL depends on the values."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q
from django.test.utils import CaptureQueriesContext

from apps.conversations.models import Conversation, Message
from apps.core.prepared import Prepared, insert, insert_and_save, insert_with_parent, save_fields
from apps.shopdata.models import Buyer
from apps.shops.models import ShopSettings
from conftest import ShopKit

pytestmark = pytest.mark.django_db(transaction=True)


def _conversations(kit: ShopKit, n: int) -> list[Conversation]:
    made = []
    for i in range(n):
        buyer = Buyer.objects.create(shop=kit.shop, external_id=f"b{i}", name=f"Buyer {i}")
        made.append(Conversation.objects.create(shop=kit.shop, buyer=buyer, intent=f"i{i}"))
    return made


BY_SHOP: Prepared[Conversation] = Prepared(
    lambda shop_id, intent: (
        Conversation.objects.filter(shop_id=shop_id)
        .exclude(intent=intent)
        .select_related("buyer", "shop__settings")
        .annotate(message_count=Count("messages"))
        .order_by("pk")
    ),
    shop_id=int,
    intent=str,
)


def test_rows_and_instances_match_djangos_own_evaluation(shop_a: ShopKit, shop_b: ShopKit) -> None:
    mine = _conversations(shop_a, 3)
    _conversations(shop_b, 2)
    Message.objects.create(
        shop=shop_a.shop,
        conversation=mine[0],
        seq=1,
        sender="buyer",
        body="hi",
        created_at=datetime.now(UTC),
    )
    expected = list(
        Conversation.objects.filter(shop_id=shop_a.shop.pk)
        .exclude(intent="i2")
        .select_related("buyer", "shop__settings")
        .annotate(message_count=Count("messages"))
        .order_by("pk")
    )

    with CaptureQueriesContext(connection) as queries:
        got = BY_SHOP.all(shop_id=shop_a.shop.pk, intent="i2")
        # related rows and annotations came with it: no query for any of these
        seen = [(c.buyer.name, c.shop.settings.language, c.message_count) for c in got]

    assert len(queries) == 1
    assert [c.pk for c in got] == [c.pk for c in expected] == [mine[0].pk, mine[1].pk]
    assert seen == [(c.buyer.name, c.shop.settings.language, c.message_count) for c in expected]
    assert [c.message_count for c in got] == [1, 0]
    assert {f.attname: getattr(got[0], f.attname) for f in Conversation._meta.concrete_fields} == {
        f.attname: getattr(expected[0], f.attname) for f in Conversation._meta.concrete_fields
    }
    # an instance saves like any other
    got[0].intent = "changed"
    got[0].save(update_fields=["intent"])
    assert Conversation.objects.get(pk=mine[0].pk).intent == "changed"


def test_each_call_runs_with_its_own_values(shop_a: ShopKit, shop_b: ShopKit) -> None:
    _conversations(shop_a, 2)
    theirs = _conversations(shop_b, 1)

    assert [c.pk for c in BY_SHOP.all(shop_id=shop_b.shop.pk, intent="none")] == [theirs[0].pk]
    assert len(BY_SHOP.all(shop_id=shop_a.shop.pk, intent="none")) == 2
    assert BY_SHOP.first(shop_id=-1, intent="none") is None


def test_values_list_rows_and_datetime_parameters(shop_a: ShopKit) -> None:
    made = _conversations(shop_a, 2)
    created = Conversation.objects.get(pk=made[0].pk).created_at
    since: Prepared[Conversation] = Prepared(
        lambda shop_id, after: (
            Conversation.objects.filter(shop_id=shop_id, created_at__gte=after)
            .order_by("pk")
            .values_list("pk", "buyer__external_id", "candidate_group_ids")
        ),
        shop_id=int,
        after=datetime,
    )

    rows = since.rows(shop_id=shop_a.shop.pk, after=created - timedelta(seconds=1))

    assert rows == [(made[0].pk, "b0", []), (made[1].pk, "b1", [])]
    assert since.rows(shop_id=shop_a.shop.pk, after=datetime(2999, 1, 1, tzinfo=UTC)) == []


def test_a_locking_query_compiles_inside_its_transaction(shop_a: ShopKit) -> None:
    made = _conversations(shop_a, 1)
    locked: Prepared[Conversation] = Prepared(
        lambda pk: Conversation.objects.select_for_update(of=("self",)).filter(pk=pk), pk=int
    )

    with transaction.atomic():
        row = locked.first(pk=made[0].pk)

    assert row is not None and row.pk == made[0].pk


def test_threads_share_one_compilation(shop_a: ShopKit) -> None:
    _conversations(shop_a, 3)
    counts: list[int] = []
    settings_of: Prepared[ShopSettings] = Prepared(
        lambda shop_id: ShopSettings.objects.filter(shop_id=shop_id), shop_id=int
    )

    def run() -> None:
        try:
            counts.append(len(BY_SHOP.all(shop_id=shop_a.shop.pk, intent="")))
            assert settings_of.first(shop_id=shop_a.shop.pk) is not None
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert counts == [3, 3, 3, 3]


def test_a_queryset_whose_sql_depends_on_the_values_is_refused() -> None:
    # a search pattern is built from the value: the placeholder does not appear as given
    searched: Prepared[Conversation] = Prepared(
        lambda text: Conversation.objects.filter(Q(intent__icontains=text)), text=str
    )

    with pytest.raises(ValueError, match="parameters not in the SQL as given"):
        searched.all(text="refund")


def test_insert_and_save_fields_store_what_save_would(shop_a: ShopKit) -> None:
    buyer = Buyer.objects.create(shop=shop_a.shop, external_id="w", name="Writer")
    fast = insert(Conversation(shop=shop_a.shop, buyer=buyer, intent="refund"))
    slow = Conversation(shop=shop_a.shop, buyer=buyer, intent="refund", state="closed")
    slow.save()

    # the new row is stored, with its id, defaults and auto_now_add, as save() stores it
    stored = Conversation.objects.get(pk=fast.pk)
    assert not fast._state.adding
    assert stored.created_at is not None and stored.created_at == fast.created_at
    assert (stored.intent, stored.state, stored.candidate_group_ids) == ("refund", "assistant", [])

    fast.intent = "size"
    fast.candidate_ids = [3, 1]
    fast.last_seq = 7
    with CaptureQueriesContext(connection) as queries:
        save_fields(fast, ["intent", "candidate_ids"])
    assert len(queries) == 1
    stored = Conversation.objects.get(pk=fast.pk)
    assert (stored.intent, stored.candidate_ids, stored.last_seq) == ("size", [3, 1], 0)
    assert Conversation.objects.get(pk=slow.pk).intent == "refund"  # other rows untouched


def test_insert_answers_integrity_errors_as_django_does(shop_a: ShopKit) -> None:
    # one open conversation per buyer (a constraint): the second insert fails like save()
    buyer = Buyer.objects.create(shop=shop_a.shop, external_id="twice")
    insert(Conversation(shop=shop_a.shop, buyer=buyer))

    with pytest.raises(IntegrityError), transaction.atomic():
        insert(Conversation(shop=shop_a.shop, buyer=buyer))
    assert Conversation.objects.filter(buyer=buyer).count() == 1


def test_insert_and_save_writes_both_rows_in_one_statement(shop_a: ShopKit) -> None:
    buyer = Buyer.objects.create(shop=shop_a.shop, external_id="both")
    conversation = insert(Conversation(shop=shop_a.shop, buyer=buyer))
    conversation.last_seq = 1
    message = Message(
        shop=shop_a.shop,
        conversation=conversation,
        seq=1,
        sender="buyer",
        body="hello",
        created_at=datetime.now(UTC),
    )

    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        insert_and_save(message, conversation, ["last_seq"])

    statements = [q["sql"] for q in queries if q["sql"] not in ("BEGIN", "COMMIT")]
    assert len(statements) == 1 and "UPDATE" in statements[0] and "INSERT" in statements[0]
    assert Message.objects.get(pk=message.pk).body == "hello"
    assert Conversation.objects.get(pk=conversation.pk).last_seq == 1


def test_a_callers_write_rides_with_a_save_in_the_same_statement(shop_a: ShopKit) -> None:
    # an assignment's agent counters go with its conversation's save (issue 8): one statement,
    # both rows written, the caller's parameters before the save's
    buyer = Buyer.objects.create(shop=shop_a.shop, external_id="rides")
    other = Buyer.objects.create(shop=shop_a.shop, external_id="named")
    conversation = insert(Conversation(shop=shop_a.shop, buyer=buyer))
    conversation.last_seq = 2
    rename = ("UPDATE shopdata_buyer SET name = %s WHERE id = %s", ["Renamed", other.pk])
    message = Message(
        shop=shop_a.shop,
        conversation=conversation,
        seq=2,
        sender="buyer",
        body="again",
        created_at=datetime.now(UTC),
    )

    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        save_fields(conversation, ["last_seq"], with_writes=[rename])
        conversation.last_seq = 3
        insert_and_save(message, conversation, ["last_seq"], with_writes=[rename])

    statements = [q["sql"] for q in queries if q["sql"] not in ("BEGIN", "COMMIT")]
    assert len(statements) == 2
    assert all(s.startswith("WITH w0 AS (UPDATE shopdata_buyer") for s in statements)
    assert Buyer.objects.get(pk=other.pk).name == "Renamed"
    assert Conversation.objects.get(pk=conversation.pk).last_seq == 3
    assert Message.objects.get(pk=message.pk).body == "again"


def test_a_new_conversation_and_its_first_message_in_one_statement(shop_a: ShopKit) -> None:
    buyer = Buyer.objects.create(shop=shop_a.shop, external_id="first")
    conversation = Conversation(shop=shop_a.shop, buyer=buyer, intent="size", last_seq=1)
    message = Message(
        shop=shop_a.shop,
        conversation=conversation,
        seq=1,
        sender="assistant",
        body="Hello!",
        created_at=datetime.now(UTC),
    )

    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        insert_with_parent(conversation, message, "conversation")

    statements = [q["sql"] for q in queries if q["sql"] not in ("BEGIN", "COMMIT")]
    assert len(statements) == 1
    assert conversation.pk is not None and message.pk is not None
    assert message.conversation_id == conversation.pk
    stored = Message.objects.select_related("conversation").get(pk=message.pk)
    assert (stored.body, stored.seq, stored.conversation.intent) == ("Hello!", 1, "size")
    assert stored.conversation.last_seq == 1 and stored.conversation.buyer_id == buyer.pk

    # a second open conversation of the same buyer fails whole, as insert() does
    again = Conversation(shop=shop_a.shop, buyer=buyer)
    orphan = Message(shop=shop_a.shop, conversation=again, seq=1, sender="assistant", body="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_with_parent(again, orphan, "conversation")
    assert Message.objects.filter(body="x").count() == 0


QUOTED: Prepared[Conversation] = Prepared(
    lambda shop_id: (
        Conversation.objects.filter(shop_id=shop_id)
        .filter(Q(intent="it's 100%") | Q(state="assistant", queue_priority=3))
        .order_by("pk")
    ),
    shop_id=int,
)


def test_constants_are_written_out_and_only_the_values_stay_parameters(shop_a: ShopKit) -> None:
    # given a queryset with constants of its own: text with a quote and a percent sign, a number
    made = _conversations(shop_a, 2)
    Conversation.objects.filter(pk=made[0].pk).update(intent="it's 100%")
    # when it runs
    sql, params = QUOTED.statement(shop_id=shop_a.shop.pk)
    # then only the shop is a parameter; the constants are literals, quoted, and select the same
    # rows as Django's own evaluation
    assert params == [shop_a.shop.pk]
    assert "'it''s 100%%'" in sql and "'assistant'" in sql
    assert [c.pk for c in QUOTED.all(shop_id=shop_a.shop.pk)] == [made[0].pk]
