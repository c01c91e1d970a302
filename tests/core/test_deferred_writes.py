"""Writes that ride with the next statement, reads sent together, and a block's last round trip
that commits (apps.core.prepared: deferred_writes, run_together, last_read; issue 8, short
critical sections). Against the real PostgreSQL: what a later read sees, what a failure leaves
behind, what the on-commit hooks see."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from apps.conversations.models import Conversation, Message
from apps.core.prepared import (
    deferred_writes,
    insert,
    insert_and_save,
    last_read,
    run_together,
    save_fields,
)
from apps.routing.locking import lock_statement
from apps.shopdata.models import Buyer
from conftest import ShopKit

pytestmark = pytest.mark.django_db(transaction=True)


def _conversation(kit: ShopKit, external_id: str) -> Conversation:
    buyer = Buyer.objects.create(shop=kit.shop, external_id=external_id)
    return insert(Conversation(shop=kit.shop, buyer=buyer))


def _message(conversation: Conversation, seq: int, body: str) -> Message:
    return Message(
        shop_id=conversation.shop_id,
        conversation=conversation,
        seq=seq,
        sender="buyer",
        body=body,
        created_at=datetime.now(UTC),
    )


def _other_connection_reads(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """What another session sees (committed rows only)."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    finally:
        other.close()


def test_queued_writes_go_with_the_next_statement_which_sees_them(shop_a: ShopKit) -> None:
    conversation = _conversation(shop_a, "rider")
    with CaptureQueriesContext(connection) as queries, transaction.atomic(), deferred_writes():
        conversation.last_seq = 1
        message = insert_and_save(_message(conversation, 1, "hello"), conversation, ["last_seq"])
        conversation.intent = "refund"
        save_fields(conversation, ["intent"])
        sent_before_the_read = len(queries)
        # the next statement carries both writes and sees them, as if they had run at once
        seen = Conversation.objects.values_list("intent", "last_seq").get(pk=conversation.pk)
        assert Message.objects.get(pk=message.pk).body == "hello"

    assert seen == ("refund", 1)
    assert message.pk is not None and not message._state.adding  # its id was reserved
    logged = [q["sql"] for q in queries]
    # nothing but the id reservation was sent before the read; then the writes, in order
    assert not any(s.startswith("UPDATE") or "INSERT" in s for s in logged[:sent_before_the_read])
    writes = [s for s in logged if s.startswith("UPDATE") or s.startswith("WITH updated")]
    assert len(writes) == 2 and writes[1].startswith("UPDATE")  # in the order they were made
    stored = Message.objects.get(pk=message.pk)
    assert (stored.conversation_id, stored.seq) == (conversation.pk, 1)


def test_the_writes_left_at_the_end_of_the_block_are_sent_then(shop_a: ShopKit) -> None:
    conversation = _conversation(shop_a, "last")
    with transaction.atomic():
        with deferred_writes():
            conversation.intent = "size"
            save_fields(conversation, ["intent"])
        # the block has ended: its writes are in the transaction
        assert Conversation.objects.get(pk=conversation.pk).intent == "size"
    assert Conversation.objects.get(pk=conversation.pk).intent == "size"


def test_a_block_that_raises_writes_nothing_even_when_the_error_is_caught(
    shop_a: ShopKit,
) -> None:
    conversation = _conversation(shop_a, "raises")
    with transaction.atomic():
        try:
            with deferred_writes():
                conversation.intent = "lost"
                save_fields(conversation, ["intent"])
                raise RuntimeError("the caller gives up")
        except RuntimeError:
            pass  # caught inside the transaction: it must still not commit half of the block
    assert Conversation.objects.get(pk=conversation.pk).intent == ""


def test_a_failing_queued_write_fails_the_statement_it_rides_with(shop_a: ShopKit) -> None:
    conversation = _conversation(shop_a, "dup")
    conversation.last_seq = 1
    insert_and_save(_message(conversation, 1, "first"), conversation, ["last_seq"])
    with pytest.raises(IntegrityError), transaction.atomic(), deferred_writes():
        conversation.intent = "half"
        save_fields(conversation, ["intent"])
        # seq 1 again: the queued insert breaks message_unique_seq when it is sent
        insert_and_save(_message(conversation, 1, "again"), conversation, ["intent"])
        Conversation.objects.filter(pk=conversation.pk).exists()  # the writes ride here
    assert Conversation.objects.get(pk=conversation.pk).intent == ""
    assert list(Message.objects.filter(conversation_id=conversation.pk).values_list("body")) == [
        ("first",)
    ]


def test_commit_rides_with_the_last_statements_and_hooks_run_after(shop_a: ShopKit) -> None:
    conversation = _conversation(shop_a, "commits")
    answers: list[list[tuple[Any, ...]]] = []
    seen_by_hook: list[str] = []

    def hook() -> None:  # another session sees the commit when the hooks run
        rows = _other_connection_reads(
            "SELECT intent FROM conversations_conversation WHERE id = %s", [conversation.pk]
        )
        seen_by_hook.append(rows[0][0])

    with transaction.atomic(), deferred_writes(commit=True):
        conversation.intent = "done"
        save_fields(conversation, ["intent"])
        last_read(("SELECT %s::int + 1", [41]), answers.append)
        transaction.on_commit(hook)
        assert answers == []  # not sent yet: it goes with the COMMIT
        # not committed yet: another session still sees the old value
        assert _other_connection_reads(
            "SELECT intent FROM conversations_conversation WHERE id = %s", [conversation.pk]
        ) == [("",)]

    assert answers == [[(42,)]]
    assert seen_by_hook == ["done"]
    assert not connection.in_atomic_block


def test_commit_is_left_to_the_outer_transaction_inside_another(shop_a: ShopKit) -> None:
    conversation = _conversation(shop_a, "nested")
    with pytest.raises(RuntimeError), transaction.atomic():
        with transaction.atomic(), deferred_writes(commit=True):
            conversation.intent = "inner"
            save_fields(conversation, ["intent"])
        raise RuntimeError("the outer transaction rolls back")
    assert Conversation.objects.get(pk=conversation.pk).intent == ""


def test_reads_sent_together_answer_in_order_after_the_lock(shop_a: ShopKit) -> None:
    a = _conversation(shop_a, "r1")
    b = _conversation(shop_a, "r2")
    with transaction.atomic():
        lock, first, second = run_together(
            [
                lock_statement(shop_a.shop.pk),
                ("SELECT id FROM conversations_conversation WHERE id = %s", [a.pk]),
                ("SELECT id, state FROM conversations_conversation WHERE id = %s", [b.pk]),
            ]
        )
        held = _other_connection_reads(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s",
            [shop_a.shop.pk],
        )
    assert len(lock) == 1
    assert first == [(a.pk,)] and second == [(b.pk, "assistant")]
    assert held == [(1,)]  # the shop's lock was taken by the first statement
