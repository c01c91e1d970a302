"""Writes that ride with the next statement, reads sent together, and a block's last round trip
that commits (apps.core.prepared: deferred_writes, run_together, last_read; issue 8, short
critical sections). Against the real PostgreSQL: what a later read sees, what a failure leaves
behind, what the on-commit hooks see."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from psycopg import pq

from apps.conversations import lifecycle
from apps.conversations.models import Conversation, Message
from apps.core.prepared import (
    _process_reserve,
    deferred_writes,
    insert,
    insert_and_save,
    last_read,
    run_together,
    save_fields,
)
from apps.events.models import Event
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


# --- Round trips, as libpq traces the protocol --------------------------------------------------
# Each round trip ends with the server's ReadyForQuery (after a Sync in a pipeline, or a simple
# query such as psycopg's own BEGIN): counted in libpq's trace of this connection's messages.


@contextmanager
def _protocol() -> Iterator[list[str]]:
    """The messages this thread's connection exchanges inside the block (libpq's trace)."""
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    seen: list[str] = []
    with tempfile.TemporaryFile("w+") as trace:
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            yield seen
        finally:
            pgconn.untrace()
            trace.seek(0)
            seen.extend(trace.read().splitlines())


def _round_trips(messages: list[str]) -> int:
    return sum(1 for line in messages if "\tReadyForQuery\t" in line)


def test_the_first_statements_of_a_transaction_carry_its_begin(shop_a: ShopKit) -> None:
    conversation = _conversation(shop_a, "begin")
    with transaction.atomic():
        with _protocol() as messages:
            (_lock, rows) = run_together(
                [lock_statement(shop_a.shop.pk), ("SELECT %s::int", [conversation.pk])]
            )
        assert rows == [(conversation.pk,)]
        assert connection.connection.pgconn.transaction_status == pq.TransactionStatus.INTRANS
        # the transaction is open: a write here is not seen by another session before COMMIT
        Conversation.objects.filter(pk=conversation.pk).update(intent="begun")
        assert _other_connection_reads(
            "SELECT intent FROM conversations_conversation WHERE id = %s", [conversation.pk]
        ) == [("",)]
        assert not connection.connection.autocommit  # psycopg's flag is Django's again
    assert _round_trips(messages) == 1  # the BEGIN went with the statements, not before them
    assert any('"BEGIN"' in line for line in messages)
    assert Conversation.objects.get(pk=conversation.pk).intent == "begun"


def test_a_block_that_only_writes_is_one_round_trip_begin_to_commit(shop_a: ShopKit) -> None:
    conversation = _conversation(shop_a, "whole")
    hooks: list[list[tuple[Any, ...]]] = []
    with _protocol() as messages, transaction.atomic(), deferred_writes(commit=True):
        conversation.intent = "whole"
        save_fields(conversation, ["intent"])
        last_read(
            ("SELECT intent FROM conversations_conversation WHERE id = %s", [conversation.pk]),
            hooks.append,
        )
    assert hooks == [[("whole",)]]
    assert _round_trips(messages) == 1  # BEGIN, the write, the read, COMMIT
    assert _other_connection_reads(
        "SELECT intent FROM conversations_conversation WHERE id = %s", [conversation.pk]
    ) == [("whole",)]


def test_a_failure_in_the_first_round_trip_rolls_back_and_leaves_the_connection_usable(
    shop_a: ShopKit,
) -> None:
    conversation = _conversation(shop_a, "fails")
    duplicate = _message(conversation, 1, "twice")
    with pytest.raises(IntegrityError), transaction.atomic(), deferred_writes(commit=True):
        conversation.intent = "never"
        save_fields(conversation, ["intent"])
        insert_and_save(duplicate, conversation, ["intent"])
        twin = _message(conversation, 1, "twice")  # the same seq: the unique constraint fails
        insert_and_save(twin, conversation, ["intent"])
    assert Conversation.objects.get(pk=conversation.pk).intent == ""
    assert not Message.objects.filter(conversation=conversation).exists()
    with transaction.atomic():
        assert run_together([("SELECT 1", [])]) == [[(1,)]]
        assert not connection.connection.autocommit


def test_a_new_conversation_with_its_greeting_and_event_is_one_round_trip(shop_a: ShopKit) -> None:
    buyers = [Buyer.objects.create(shop=shop_a.shop, external_id=f"open{n}") for n in range(4)]
    # a process that has served the shop before: it knows the shop's webhooks (none), which a
    # process reads once per shop after a commit (apps.integrations.subscriptions)
    lifecycle.conversation_open(buyer=buyers.pop(), open_id=None)
    _process_reserve.clear()
    with _protocol() as reserving:  # the process reserves ids of both tables first, together
        first = lifecycle.conversation_open(buyer=buyers[0], open_id=None)
    with _protocol() as messages:
        second = lifecycle.conversation_open(buyer=buyers[1], human=True, open_id=None)
    assert _round_trips(reserving) == 2
    assert _round_trips(messages) == 1  # BEGIN, conversation and greeting, event, COMMIT
    third = lifecycle.conversation_open(buyer=buyers[2], open_id=None)
    assert first.pk < second.pk < third.pk  # ids from the process's reserve, in order
    greeting = Message.objects.get(conversation=second)
    assert (greeting.seq, greeting.sender) == (1, "assistant")
    assert Conversation.objects.get(pk=second.pk).human_requested_at is not None
    assert Event.objects.filter(type="message.created", payload__id=greeting.pk).exists()
    # a buyer who has one open already gets that one (the insert fails, nothing is half-written)
    again = lifecycle.conversation_open(buyer=buyers[1], open_id=None)
    assert again.pk == second.pk
    assert Message.objects.filter(conversation__buyer=buyers[1]).count() == 1
