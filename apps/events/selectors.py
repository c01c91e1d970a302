"""Reads of the event streams: the head of a recipient's stream and the stored events after a
``stream_seq``, for resuming sockets and filling gaps (DESIGN, events and delivery)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apps.events.models import Event, StreamCounter
from apps.events.services import Recipient

BATCH = 200


@dataclass(frozen=True)
class StreamEvent:
    """One stored event as a socket sends it: ``{"type", "stream_seq", "data"}``."""

    stream_seq: int
    type: str
    data: dict[str, Any]

    def frame(self) -> dict[str, Any]:
        return {"type": self.type, "stream_seq": self.stream_seq, "data": self.data}


def stream_head(recipient: Recipient) -> int:
    """The last ``stream_seq`` given to ``recipient`` (0 before its first event)."""
    last = (
        StreamCounter.objects.filter(recipient_kind=recipient.kind, recipient_id=recipient.id)
        .values_list("last_seq", flat=True)
        .first()
    )
    return int(last or 0)


def stream_events(
    recipient: Recipient, *, after: int, upto: int | None = None, limit: int = BATCH
) -> list[StreamEvent]:
    """The stored events of ``recipient`` with ``after < stream_seq <= upto``, in order, at most
    ``limit`` of them. Only this recipient's rows: the stream is the access decision."""
    rows = Event.objects.filter(
        recipient_kind=recipient.kind, recipient_id=recipient.id, stream_seq__gt=after
    )
    if upto is not None:
        rows = rows.filter(stream_seq__lte=upto)
    return [
        StreamEvent(seq, type, payload)
        for seq, type, payload in rows.order_by("stream_seq").values_list(
            "stream_seq", "type", "payload"
        )[:limit]
    ]
