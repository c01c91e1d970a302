"""Domain events: written to the outbox in the caller's transaction, pushed after commit.

``emit`` is the one function through which every stored event leaves; ``LiveEvent`` is an event
outside the stream (never stored, no ``stream_seq``: typing) that a socket relays at once. This
module is generic: which event types exist, their payloads and their recipients are the event
catalogue's (``apps.conversations.events``), the only caller of ``emit``. Naming the recipients
is a security decision (STYLE, Zulip).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from apps.core.prepared import last_read
from apps.core.realtime import account_group, buyer_group, send_to_group_on_commit
from apps.events.models import Event, RecipientKind, StreamCounter


@dataclass(frozen=True)
class Recipient:
    kind: RecipientKind
    id: int

    @property
    def group(self) -> str:
        """The channel-layer group of every socket of this recipient."""
        if self.kind == RecipientKind.ACCOUNT:
            return account_group(self.id)
        return buyer_group(self.id)


def to_account(account_id: int) -> Recipient:
    return Recipient(RecipientKind.ACCOUNT, account_id)


def to_buyer(buyer_id: int) -> Recipient:
    return Recipient(RecipientKind.BUYER, buyer_id)


@dataclass(frozen=True)
class LiveEvent:
    """An event outside the stream (API.md: no ``stream_seq``, nothing stored): the sockets of
    ``recipient`` get ``{"type": type, "data": data}`` (``StreamConsumer.live_event``)."""

    recipient: Recipient
    type: str
    data: Mapping[str, Any]

    def message(self) -> dict[str, Any]:
        """The channel-layer message for ``recipient.group``."""
        return {"type": "live.event", "event": self.type, "data": dict(self.data)}


def _next_seq(recipient: Recipient) -> int:
    """Take the recipient's next ``stream_seq`` inside the current transaction."""
    table = StreamCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (recipient_kind, recipient_id, last_seq) "  # noqa: S608
            "VALUES (%s, %s, 1) "
            "ON CONFLICT (recipient_kind, recipient_id) "
            f"DO UPDATE SET last_seq = {table}.last_seq + 1 "
            "RETURNING last_seq",
            [recipient.kind.value, recipient.id],
        )
        row = cursor.fetchone()
    assert row is not None
    return int(row[0])


@dataclass
class _Pending:
    """One event of one recipient, waiting for its ``stream_seq``."""

    shop_id: int
    recipient: Recipient
    type: str
    payload: str
    data: Mapping[str, Any]


_STORE_MANY = """
WITH input AS (
    SELECT (e->>0)::bigint AS shop_id, e->>1 AS kind, (e->>2)::bigint AS rid, e->>3 AS type,
        e->4 AS payload, ord
    FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS t(e, ord)
), counts AS (
    SELECT kind, rid, count(*) AS n FROM input GROUP BY kind, rid
), seq AS (
    INSERT INTO {counters} AS c (recipient_kind, recipient_id, last_seq)
    SELECT kind, rid, n FROM counts ORDER BY kind, rid
    ON CONFLICT (recipient_kind, recipient_id)
    DO UPDATE SET last_seq = c.last_seq + EXCLUDED.last_seq
    RETURNING recipient_kind, recipient_id, last_seq
)
INSERT INTO {events}
    (shop_id, recipient_kind, recipient_id, stream_seq, type, payload, created_at)
SELECT i.shop_id, i.kind, i.rid,
    s.last_seq - c.n + row_number() OVER (PARTITION BY i.kind, i.rid ORDER BY i.ord),
    i.type, i.payload, %s
FROM input i
JOIN counts c ON c.kind = i.kind AND c.rid = i.rid
JOIN seq s ON s.recipient_kind = i.kind AND s.recipient_id = i.rid
RETURNING recipient_kind, recipient_id, stream_seq
""".format(counters=StreamCounter._meta.db_table, events=Event._meta.db_table)  # noqa: S608, UP032


def _store_many_postgresql(pending: list[_Pending], now: datetime) -> None:
    """Store ``pending`` in one statement: each recipient's counter moves once, by its number
    of events, and its events take the new numbers in order. Counters are taken in one order
    (kind, id) whatever the order of the events, as every multi-recipient store does. The
    statement is the last of a ``deferred_writes`` block (``last_read``: in a routing pass, it
    goes with the pass's writes and its COMMIT in one round trip); each event is pushed after
    commit with its ``stream_seq``."""
    # One JSON array of [shop, kind, recipient, type, payload] rows, the payloads spliced in as
    # the JSON text they already are: PostgreSQL parses it in C, where psycopg's array dumper
    # quoted each payload through a regular expression in Python (a sixth of a routing pass's
    # CPU, issue 8).
    events = ",".join(
        f"[{p.shop_id},{json.dumps(p.recipient.kind.value)},{p.recipient.id},"
        f"{json.dumps(p.type)},{p.payload}]"
        for p in pending
    )

    def stored(rows: list[tuple[Any, ...]]) -> None:
        numbers: dict[tuple[str, int], list[int]] = {}
        for kind, rid, stream_seq in rows:
            numbers.setdefault((kind, int(rid)), []).append(int(stream_seq))
        for seqs in numbers.values():
            seqs.sort(reverse=True)  # pop() hands them out smallest first
        _push(pending, [numbers[(p.recipient.kind.value, p.recipient.id)].pop() for p in pending])

    last_read((_STORE_MANY, [f"[{events}]", now]), stored)


def _push(pending: list[_Pending], seqs: list[int]) -> None:
    """Each stored event to its recipient's group after commit, in order."""
    for p, stream_seq in zip(pending, seqs, strict=True):
        send_to_group_on_commit(
            p.recipient.group,
            {"type": "stream.event", "stream_seq": stream_seq, "event": p.type, "data": p.data},
        )


def _store(pending: list[_Pending]) -> None:
    """Store ``pending`` (in the current transaction) and push each after commit, in order."""
    if not pending:
        return
    now = timezone.now()
    if connection.vendor == "postgresql":
        _store_many_postgresql(pending, now)
        return
    seqs = []
    for p in pending:
        stream_seq = _next_seq(p.recipient)
        Event.objects.create(
            shop_id=p.shop_id,
            recipient_kind=p.recipient.kind,
            recipient_id=p.recipient.id,
            stream_seq=stream_seq,
            type=p.type,
            payload=dict(p.data),
        )
        seqs.append(stream_seq)
    _push(pending, seqs)


_batch = threading.local()


@contextmanager
def batched_events() -> Iterator[None]:
    """Store the events emitted inside the block in one statement when it ends (DESIGN, short
    critical sections: one round trip for a whole routing pass). Use it inside a transaction,
    around code that catches no database error of its own: the events of a block that raises
    are dropped with its transaction. Blocks nest; the outermost stores."""
    outer: list[_Pending] | None = getattr(_batch, "pending", None)
    if outer is not None:
        yield
        return
    _batch.pending = []
    try:
        yield
        pending, _batch.pending = _batch.pending, None
        _store(pending)
    finally:
        _batch.pending = None


def emit(
    *, shop_id: int, recipients: Iterable[Recipient], type: str, data: Mapping[str, Any]
) -> None:
    """Store one event per recipient and push each after commit. Call inside a transaction.

    On PostgreSQL the events of one call (or of a ``batched_events`` block) are one statement,
    counters and rows together; the embedded SQLite mode takes each counter, then the row."""
    assert transaction.get_connection().in_atomic_block, "emit() belongs in a transaction"
    payload = json.dumps(data, cls=DjangoJSONEncoder)
    pending = [
        _Pending(shop_id, recipient, type, payload, data)
        for recipient in dict.fromkeys(recipients)  # each recipient once, in order
    ]
    batch: list[_Pending] | None = getattr(_batch, "pending", None)
    if batch is not None:
        batch.extend(pending)
    else:
        _store(pending)


DELETE_BATCH = 5000


def events_delete_expired(*, now: datetime | None = None) -> int:
    """Retention (DESIGN): delete events older than ``HELPDESK_EVENT_RETENTION_SECONDS``, in
    batches so that no transaction holds many rows. The counters stay: numbering goes on, and a
    client asking for a deleted event is told to resync. Returns how many were deleted."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.HELPDESK_EVENT_RETENTION_SECONDS)
    deleted = 0
    while True:
        ids = list(
            Event.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:DELETE_BATCH]
        )
        if not ids:
            return deleted
        deleted += Event.objects.filter(pk__in=ids).delete()[0]
