"""The socket side of the event streams (API.md, WebSockets; DESIGN, events and delivery).

:class:`StreamConsumer` is the base of the agent socket and the buyer socket. It carries one
recipient's stream and owns everything the two share:

* resume: ``?after=n`` replays the stored events ``n+1 ..`` in order, then live ones; ``?after=0``
  the whole retained stream; no ``after`` live events only. Older than the retention: ``resync``.
* gap filling: it remembers the last ``stream_seq`` it delivered; a live event that is not
  last + 1 makes it read the gap from the outbox first, an older one is dropped (a duplicate);
  every client ping also checks the head of the stream, so even a lost last push is delivered.
* client frames: size and rate limits, JSON parsing, dispatch by ``type`` to the subclass's
  handlers, and the one mapping of domain errors to ``error`` frames; the socket stays usable.
* heartbeats: a socket that sends nothing for ``MISSED_PINGS`` ping intervals is closed with
  4408.
* one worker per socket: client frames and pushed events are handled in arrival order by a task
  of the socket's own, so the consumer goes straight back to reading the connection. The server
  (uvicorn) stops reading a socket while a frame waits for the application; a handler waiting
  on a busy database with the client's next frame behind it kept the keepalive pongs unread
  until uvicorn closed the socket with 1011 "keepalive ping timeout" (issue 8, item 4). The
  backlog is bounded: pushed events beyond ``BACKLOG_MAX`` are dropped (the outbox has them: the
  next event or ping fills the gap), and a client frame beyond ``FRAMES_MAX`` (room for the
  client's own frames above the events) closes the socket with 1013 (try again later).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from apps.core import jsonlimits, logs
from apps.core.db import db_async
from apps.core.errors import DomainError
from apps.core.metrics import SOCKETS
from apps.core.realtime import remember_server_loop
from apps.core.unavailable import CLOSE_TRY_AGAIN_LATER, is_unavailable
from apps.events.selectors import StreamEvent, stream_events, stream_head
from apps.events.services import LiveEvent, Recipient

logger = logging.getLogger(__name__)

# Close codes (4000-4999 are the application's): bad query, access revoked, heartbeats missed.
CLOSE_BAD_REQUEST = 4400
CLOSE_REVOKED = 4403
CLOSE_HEARTBEAT = 4408

MISSED_PINGS = 2.5  # a socket silent for this many ping intervals is dead
RATE_BURST = 40  # client frames: a burst of 40, then 10 a second
RATE_PER_SECOND = 10.0
BACKLOG_MAX = 100  # pushed events waiting for a socket's worker; beyond it they are dropped
FRAMES_MAX = 2 * BACKLOG_MAX  # frames and events waiting: a client frame beyond it closes 1013

Handler = Callable[[dict[str, Any]], Awaitable[None]]
Job = Callable[[], Awaitable[None]]


def is_gone(exc: BaseException) -> bool:
    """The client went away while we answered (the server's ``ClientDisconnected``)."""
    return type(exc).__name__ == "ClientDisconnected"


def socket_error(exc: Exception) -> dict[str, Any]:
    """The ``data`` of an ``error`` frame for an exception: the one mapping (STYLE 9)."""
    if isinstance(exc, DomainError):
        return {"code": exc.code, **exc.as_payload()}
    if isinstance(exc, ValidationError):  # Django's (a model's or a form's checks): no DRF here
        if hasattr(exc, "error_dict"):
            return {"code": "invalid", "errors": exc.message_dict}
        return {"code": "invalid", "detail": " ".join(exc.messages)}
    return {"code": "internal", "detail": _("Something went wrong; nothing was changed.")}


class StreamConsumer(AsyncJsonWebsocketConsumer):
    """One recipient's stream over one socket; subclasses authenticate and handle frames."""

    # Client frame type -> name of the handler method (``async def on_x(self, content)``).
    frames: ClassVar[dict[str, str]] = {"ping": "on_ping"}
    metrics_kind: ClassVar[str] = "stream"  # the label of the open sockets' gauge (/metrics)

    recipient: Recipient
    delivered: int

    # --- For subclasses ------------------------------------------------------------------------

    async def authorize(self) -> Recipient | None:
        """The stream this socket may read, or None to refuse the handshake (HTTP 403)."""
        raise NotImplementedError

    async def hello_data(self) -> dict[str, Any]:
        return {}

    async def ping_seconds_for(self) -> float:
        return float(settings.HELPDESK_WS_PING_SECONDS)

    async def heartbeat(self) -> None:
        """A client ping arrived (the agent socket records presence)."""

    async def on_gone(self, clean: bool) -> None:
        """The socket closed (``clean``: by the client or the server, not for missed pings)."""

    def shape(self, event_type: str, data: Any) -> Any:
        """A stored event's data as this socket delivers it (live or replayed); the agent
        socket masks what its account may not see (SPEC I6). As stored by default."""
        return data

    async def on_access_changed(self) -> None:
        """The account's permissions changed (``access.changed``): what ``shape`` decides may."""

    async def on_ping(self, content: dict[str, Any]) -> None:
        """``{"type": "ping"}``: a heartbeat; also delivers what a lost push left behind."""
        await self.heartbeat()
        await self.check_head()
        await self.send_json({"type": "pong"})

    # --- Connecting and resuming ---------------------------------------------------------------

    async def connect(self) -> None:
        recipient = await self.authorize()
        if recipient is None:
            await self.close()
            return
        remember_server_loop()
        logs.request_id.set(logs.new_request_id())  # I7: this socket's lines in the logs
        self.recipient = recipient
        self.delivered = 0
        self.last_frame_at = time.monotonic()
        self.tokens = float(RATE_BURST)
        self.tokens_at = time.monotonic()
        self.ping_seconds = await self.ping_seconds_for()
        self.watchdog: asyncio.Task[None] | None = None
        self.backlog: asyncio.Queue[Job] = asyncio.Queue()
        self.worker: asyncio.Task[None] | None = None
        await self.channel_layer.group_add(recipient.group, self.channel_name)
        await self.accept()
        SOCKETS.labels(self.metrics_kind).inc()  # I7: /metrics
        self.counted = True
        after, problem = self._after()
        if problem is not None:
            await self.send_json({"type": "error", "data": problem})
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        head = await db_async(stream_head)(recipient)
        hello = await self.hello_data()
        await self.send_json(
            {
                "type": "hello",
                "data": {**hello, "last_seq": head, "ping_seconds": self.ping_seconds},
            }
        )
        if after is None:
            self.delivered = head  # live events only
        else:
            await self._replay(after, head)
        self.watchdog = asyncio.ensure_future(self._watch())
        self.worker = asyncio.ensure_future(self._work())

    def _after(self) -> tuple[int | None, dict[str, Any] | None]:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        raw = (query.get("after") or [None])[0]
        if raw is None:
            return None, None
        if not raw.isdigit():
            message = _("after is the last stream_seq received: a whole number from 0.")
            return None, {"code": "invalid", "errors": {"after": [message]}}
        return int(raw), None

    async def _replay(self, after: int, head: int) -> None:
        """Send the stored events ``after+1 .. head``; ``after=0`` starts at the oldest kept."""
        if after > head:  # the client knows of events this stream never had (e.g. a restore)
            await self._resync(head)
            return
        self.delivered = after
        await self._catch_up(head, from_oldest=after == 0)

    async def _catch_up(self, upto: int, *, from_oldest: bool = False) -> None:
        """Deliver the stored events ``delivered+1 .. upto`` in order, in batches."""
        while self.delivered < upto:
            batch: list[StreamEvent] = await db_async(stream_events)(
                self.recipient, after=self.delivered, upto=upto
            )
            if not batch or (batch[0].stream_seq != self.delivered + 1 and not from_oldest):
                await self._resync(upto)  # deleted by the retention: the client re-fetches
                return
            from_oldest = False
            for event in batch:
                frame = event.frame()
                frame["data"] = self.shape(event.type, frame["data"])
                await self.send_json(frame)
                self.delivered = event.stream_seq

    async def _resync(self, head: int) -> None:
        """The missed events are gone: the client re-fetches its state through the REST API and
        continues from ``last_seq``."""
        self.delivered = head
        await self.send_json({"type": "resync", "data": {"last_seq": head}})

    # --- Live events ---------------------------------------------------------------------------

    async def stream_event(self, message: dict[str, Any]) -> None:
        """A stored event of this stream, pushed after commit (apps.events.services.emit):
        handled by the socket's worker, after what arrived before it."""
        if self.backlog.qsize() >= BACKLOG_MAX:
            return  # the outbox has it: the next event or ping fills the gap
        self.backlog.put_nowait(lambda: self.deliver(message))

    async def deliver(self, message: dict[str, Any]) -> None:
        seq = int(message["stream_seq"])
        if seq <= self.delivered:
            return  # already delivered (replayed or filled from the outbox)
        if seq != self.delivered + 1:
            await self._catch_up(seq)  # a push was lost or overtaken: the outbox has it
            return
        data = self.shape(message["event"], message["data"])
        await self.send_json({"type": message["event"], "stream_seq": seq, "data": data})
        self.delivered = seq

    async def live_event(self, message: dict[str, Any]) -> None:
        """An event outside the stream (``LiveEvent``: typing): no ``stream_seq``, not stored;
        handled by the socket's worker, dropped when it is backlogged."""
        if self.backlog.qsize() < BACKLOG_MAX:
            frame = {"type": message["event"], "data": message["data"]}
            self.backlog.put_nowait(lambda: self.send_json(frame))

    async def access_changed(self, message: dict[str, Any]) -> None:
        """``access.changed`` (``apps.accounts.permissions.set_perms``): handled by the socket's
        worker, in order with the events around it."""
        self.backlog.put_nowait(self.on_access_changed)

    async def relay(self, event: LiveEvent) -> None:
        """Send ``event`` to its recipient's sockets now (a client frame's live answer)."""
        await self.channel_layer.group_send(event.recipient.group, event.message())

    async def check_head(self) -> None:
        """Deliver what the outbox holds beyond the last delivered event (a lost last push)."""
        head = await db_async(stream_head)(self.recipient)
        if head > self.delivered:
            await self._catch_up(head)

    # --- Heartbeats ----------------------------------------------------------------------------

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.ping_seconds)
            now = time.monotonic()
            if now - self.last_frame_at > self.ping_seconds * MISSED_PINGS:
                self.missed_pings = True
                await self.close(code=CLOSE_HEARTBEAT)
                return

    async def disconnect(self, code: int) -> None:
        if not hasattr(self, "recipient"):
            return  # refused at the handshake
        for task in (self.watchdog, getattr(self, "worker", None)):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.channel_layer.group_discard(self.recipient.group, self.channel_name)
        if getattr(self, "counted", False):
            SOCKETS.labels(self.metrics_kind).dec()
            self.counted = False
        await self.on_gone(clean=not getattr(self, "missed_pings", False))

    # --- Client frames -------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        self.last_frame_at = time.monotonic()
        if text_data is None:
            await self.send_error({"code": "invalid", "detail": _("Send JSON text frames.")})
            return
        if len(text_data.encode()) > settings.HELPDESK_WS_MAX_FRAME_BYTES:
            detail = _("The frame is too large.")
            await self.send_error({"code": "too_large", "detail": detail})
            return
        if not self._take_token():
            detail = _("Too many frames; slow down.")
            await self.send_error({"code": "throttled", "detail": detail})
            return
        try:
            content = jsonlimits.loads(text_data)
        except jsonlimits.JSONRefused as exc:  # not JSON, or nested too deeply (issue 12)
            await self.send_error({"code": "invalid", "detail": str(exc)})
            return
        kind = content.get("type") if isinstance(content, dict) else None
        handler_name = self.frames.get(kind) if isinstance(kind, str) else None
        if handler_name is None:
            detail = _("Unknown frame type: %(type)s.") % {"type": json.dumps(kind)[:80]}
            await self.send_error({"code": "unknown_type", "detail": detail})
            return
        handler: Handler = getattr(self, handler_name)
        if self.backlog.qsize() >= FRAMES_MAX:  # the server is far behind this client
            logger.warning("socket frame %s: backlog full, closing with 1013", kind)
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
            return
        self.backlog.put_nowait(lambda: self._handle(handler, content))

    async def _handle(self, handler: Handler, content: dict[str, Any]) -> None:
        """Run one frame's handler; its errors become ``error`` frames (the socket stays)."""
        try:
            await handler(content)
        except (DomainError, ValidationError) as exc:
            await self.send_error(socket_error(exc), content)
        except Exception as exc:
            if is_gone(exc) or is_unavailable(exc):
                raise  # the worker closes the socket (see _work)
            logger.exception("socket frame %s failed", content.get("type"))
            await self.send_error(socket_error(exc), content)

    async def _work(self) -> None:
        """The socket's worker: frames and events one at a time, in arrival order."""
        while True:
            job = await self.backlog.get()
            try:
                await job()
            except Exception as exc:
                if is_gone(exc):  # gone mid-answer: nothing to tell
                    return
                if is_unavailable(exc):  # no database connection or Redis: reconnect later
                    logger.warning("socket closing with 1013: %r", exc)
                    code = CLOSE_TRY_AGAIN_LATER
                else:
                    logger.exception("socket failed")
                    code = 1011
                with contextlib.suppress(Exception):
                    await self.close(code=code)
                return

    def _take_token(self) -> bool:
        now = time.monotonic()
        self.tokens = min(RATE_BURST, self.tokens + (now - self.tokens_at) * RATE_PER_SECOND)
        self.tokens_at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    async def send_error(self, data: dict[str, Any], request: dict[str, Any] | None = None) -> None:
        """An ``error`` frame (no ``stream_seq``), naming the request it answers when known."""
        if request is not None:
            data = {**data, "request": {k: request.get(k) for k in ("type", "client_id")}}
        await self.send_json({"type": "error", "data": data})
