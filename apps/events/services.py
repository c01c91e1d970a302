"""Domain events: written to the outbox in the caller's transaction, pushed after commit.

``emit`` is the one function through which every stored event leaves; ``LiveEvent`` is an event
outside the stream (never stored, no ``stream_seq``: typing) that a socket relays at once. This
module is generic: which event types exist, their payloads and their recipients are the event
catalogue's (``apps.conversations.events``), the only caller of ``emit``. Naming the recipients
is a security decision (STYLE, Zulip).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

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


def _store_postgresql(
    shop_id: int, recipient: Recipient, type: str, payload: str, now: datetime
) -> int:
    """Take the next ``stream_seq`` and store the event in one statement (one round trip)."""
    counters = StreamCounter._meta.db_table
    events = Event._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH seq AS (INSERT INTO {counters} (recipient_kind, recipient_id, last_seq) "  # noqa: S608
            "VALUES (%s, %s, 1) ON CONFLICT (recipient_kind, recipient_id) "
            f"DO UPDATE SET last_seq = {counters}.last_seq + 1 RETURNING last_seq) "
            f"INSERT INTO {events} "
            "(shop_id, recipient_kind, recipient_id, stream_seq, type, payload, created_at) "
            "SELECT %s, %s, %s, seq.last_seq, %s, %s::jsonb, %s FROM seq RETURNING stream_seq",
            [
                recipient.kind.value,
                recipient.id,
                shop_id,
                recipient.kind.value,
                recipient.id,
                type,
                payload,
                now,
            ],
        )
        row = cursor.fetchone()
    assert row is not None
    return int(row[0])


def emit(
    *, shop_id: int, recipients: Iterable[Recipient], type: str, data: Mapping[str, Any]
) -> None:
    """Store one event per recipient and push each after commit. Call inside a transaction.

    On PostgreSQL each event is one statement (the counter and the row together); the embedded
    SQLite mode takes the counter, then inserts the row."""
    assert transaction.get_connection().in_atomic_block, "emit() belongs in a transaction"
    now = timezone.now()
    payload = json.dumps(data, cls=DjangoJSONEncoder)
    for recipient in dict.fromkeys(recipients):  # each recipient once, in order
        if connection.vendor == "postgresql":
            stream_seq = _store_postgresql(shop_id, recipient, type, payload, now)
        else:
            stream_seq = _next_seq(recipient)
            Event.objects.create(
                shop_id=shop_id,
                recipient_kind=recipient.kind,
                recipient_id=recipient.id,
                stream_seq=stream_seq,
                type=type,
                payload=dict(data),
            )
        send_to_group_on_commit(
            recipient.group,
            {"type": "stream.event", "stream_seq": stream_seq, "event": type, "data": data},
        )


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
