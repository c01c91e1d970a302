"""Conversations and messages (SPEC B, C; DESIGN, lifecycle)."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import ShopOwned


class State(models.TextChoices):
    ASSISTANT = "assistant", _("With the service assistant")
    QUEUED = "queued", _("Queued")
    ACTIVE = "active", _("Active")
    POOLED = "pooled", _("In the message pool")
    CLOSED = "closed", _("Closed")


OPEN_STATES = (State.ASSISTANT, State.QUEUED, State.ACTIVE, State.POOLED)


class CloseReason(models.TextChoices):
    AGENT = "agent", _("Ended by the agent")
    BUYER_SILENCE = "buyer_silence", _("Buyer silent")
    AGENT_SILENCE = "agent_silence", _("Agent silent")
    BUYER_LEFT = "buyer_left", _("Buyer left")


class Entrance(models.TextChoices):
    PRODUCT = "product", _("Product detail")
    ORDER = "order", _("Order detail")
    MEMBER = "member", _("Member centre")


class IdArrayField(ArrayField):  # type: ignore[type-arg]
    """A list of ids: a PostgreSQL ``bigint[]``; in the embedded mode (SQLite, which has no
    arrays) the same list as JSON text. Nothing queries inside it (no ``__contains``): it is
    read with its row and changed under the row's lock, so both databases behave alike."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("base_field", None)
        super().__init__(models.BigIntegerField(), **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("base_field", None)
        return name, path, args, kwargs

    def db_type(self, connection: Any) -> str | None:
        if connection.vendor != "postgresql":
            return "text"
        return super().db_type(connection)

    def get_placeholder(self, value: Any, compiler: Any, connection: Any) -> str:
        if connection.vendor != "postgresql":
            return "%s"
        return super().get_placeholder(value, compiler, connection)  # type: ignore[no-any-return]

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if connection.vendor != "postgresql":
            return None if value is None else json.dumps([int(v) for v in value])
        return super().get_db_prep_value(value, connection, prepared)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


class Conversation(ShopOwned):
    buyer = models.ForeignKey(
        "shopdata.Buyer", on_delete=models.CASCADE, related_name="conversations"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.ASSISTANT)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations",
    )
    group = models.ForeignKey(
        "routing.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    entrance = models.CharField(max_length=8, choices=Entrance.choices, blank=True)
    product = models.ForeignKey(
        "shopdata.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    order = models.ForeignKey(
        "shopdata.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    intent = models.CharField(max_length=64, blank=True)
    chosen_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Who may take it while it waits (queue, pool): agent ids, or null for every participant.
    candidate_ids = models.JSONField(null=True, blank=True)
    candidate_group_ids = models.JSONField(default=list, blank=True)
    # Queue order (C4): higher priority first (re-queued by B9a / D6 / B12 go to the front).
    queue_priority = models.SmallIntegerField(default=0)
    queued_at = models.DateTimeField(null=True, blank=True)
    pooled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    human_requested_at = models.DateTimeField(null=True, blank=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    assign_reason = models.CharField(max_length=16, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=16, choices=CloseReason.choices, blank=True)
    from_offline_message = models.BooleanField(default=False)
    buyer_wrote = models.BooleanField(default=False)
    last_seq = models.PositiveIntegerField(default=0)
    # The queue figures last pushed to the buyer (queue.updated is coalesced, DESIGN).
    queue_pushed = models.JSONField(null=True, blank=True)
    last_buyer_message_at = models.DateTimeField(null=True, blank=True)
    last_agent_message_at = models.DateTimeField(null=True, blank=True)
    # Timers (SPEC D5, D6; DESIGN, timers): when the next automatic step is due, null when none.
    # Set by apps.automation.timers on every message and assignment, cleared when the
    # conversation leaves `active` (or `assistant`); the periodic tick reads them through the
    # partial indexes below and touches only what is due.
    buyer_warn_at = models.DateTimeField(null=True, blank=True)
    buyer_close_at = models.DateTimeField(null=True, blank=True)
    agent_warn_at = models.DateTimeField(null=True, blank=True)
    agent_due_at = models.DateTimeField(null=True, blank=True)
    # SPEC I3 (amended): the supervisors watching it live (the main account, ``view_monitor``):
    # they receive its events as the holding agent does (``events._holder``). On the row, so
    # that the hot paths, which read the row anyway, find them with no query of their own;
    # written under the row's lock (``apps.conversations.supervision``), emptied when it closes.
    watcher_ids = IdArrayField(default=list, blank=True)
    # SPEC G3 (issue 11): the facts the metrics need that the columns above forget when a
    # conversation moves on (``agent``, ``assigned_at``, ``assign_reason`` and ``queued_at``
    # change with a transfer, a re-route or a re-queue). Written once, by the lifecycle's own
    # saves (``outcomes.apply_assign`` / ``apply_queue``, ``transitions.conversation_leave``),
    # so the hot paths send no statement more. A conversation counts for its first agent.
    first_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_assigned_at = models.DateTimeField(null=True, blank=True)
    first_assign_reason = models.CharField(max_length=16, blank=True)
    # The first time it waited in the queue, and for which group (the lowest of its candidate
    # groups then; null: the whole shop's candidates), for the queue report (seed 004).
    first_queued_at = models.DateTimeField(null=True, blank=True)
    queue_group = models.ForeignKey(
        "routing.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # C5: the buyer left the queue (closed as buyer_left, or turned into an offline message).
    left_queue_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # DESIGN: at most one open conversation per shop and buyer.
            models.UniqueConstraint(
                fields=["shop", "buyer"],
                condition=~Q(state="closed"),
                name="conversation_one_open_per_buyer",
            )
        ]
        indexes = [
            models.Index(
                fields=["shop", "-queue_priority", "queued_at"],
                condition=Q(state="queued"),
                name="conversation_queue_idx",
            ),
            models.Index(
                fields=["shop", "pooled_at"],
                condition=Q(state="pooled"),
                name="conversation_pool_idx",
            ),
            models.Index(  # asked for a human, not yet routed (lifecycle.route_pending)
                fields=["shop", "human_requested_at"],
                condition=Q(state="assistant", human_requested_at__isnull=False),
                name="conversation_pending_idx",
            ),
            models.Index(fields=["shop", "agent", "state"], name="conversation_agent_idx"),
            models.Index(fields=["shop", "buyer", "-closed_at"], name="conversation_buyer_idx"),
            models.Index(  # SPEC I6: the retention job reads a shop's oldest closed ones
                fields=["shop", "closed_at"],
                condition=Q(state="closed"),
                name="conversation_closed_idx",
            ),
            models.Index(  # G3: the metrics read a shop's conversations by the request's day
                fields=["shop", "human_requested_at"],
                condition=Q(human_requested_at__isnull=False),
                name="conversation_requested_idx",
            ),
            *(
                models.Index(  # (due, shop): the tick asks "what is due" and "of this shop"
                    fields=[field, "shop"],
                    condition=Q(**{f"{field}__isnull": False}),
                    name=f"conversation_{field.removesuffix('_at')}_idx",
                )
                for field in ("buyer_warn_at", "buyer_close_at", "agent_warn_at", "agent_due_at")
            ),
        ]

    def __str__(self) -> str:
        return f"conversation {self.pk} ({self.state})"


class Sender(models.TextChoices):
    BUYER = "buyer", _("Buyer")
    AGENT = "agent", _("Agent")
    SYSTEM = "system", _("System")
    ASSISTANT = "assistant", _("Service assistant")


class MessageKind(models.TextChoices):
    TEXT = "text", _("Text")
    ORDER_CARD = "order_card", _("Order card")
    AFTER_SALE_CARD = "after_sale_card", _("After-sales card")
    PRODUCT_CARD = "product_card", _("Product card")
    IMAGE = "image", _("Image")
    RATING_REQUEST = "rating_request", _("Rating request")
    NOTICE = "notice", _("Notice")


class Message(ShopOwned):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    seq = models.PositiveIntegerField()
    sender = models.CharField(max_length=10, choices=Sender.choices)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=MessageKind.choices, default=MessageKind.TEXT)
    body = models.TextField()
    client_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()
    # An order, after-sales or product card (SPEC E4, E5, I1): the data as it was when sent, so
    # that the chat shows what the buyer saw then, whatever the shop's systems push later.
    card = models.JSONField(null=True, blank=True)
    # I1: the sender took it back within the recall window; the body is kept for staff audit
    # but neither side's API or stream shows it any more.
    recalled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_unique_seq"),
            models.UniqueConstraint(
                fields=["conversation", "sender", "client_id"],
                condition=~Q(client_id=""),
                name="message_unique_client_id",
            ),
        ]
        ordering = ["conversation", "seq"]

    def __str__(self) -> str:
        return f"{self.conversation_id}#{self.seq}"


class Attachment(ShopOwned):
    """SPEC I1: an image sent in a conversation, re-encoded without its metadata, with a
    thumbnail. Stored before its message (``message`` is null until then, in the same
    transaction); served only through ``apps.conversations.api.files``, to who may see the
    conversation."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="attachments"
    )
    message = models.OneToOneField(
        Message, null=True, blank=True, on_delete=models.CASCADE, related_name="attachment"
    )
    sender = models.CharField(max_length=10, choices=Sender.choices)
    image = models.FileField(max_length=255)
    thumbnail = models.FileField(max_length=255)
    content_type = models.CharField(max_length=32)
    size = models.PositiveIntegerField()  # bytes of the stored (re-encoded) image
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"attachment {self.pk} of {self.conversation_id}"


class NoteKind(models.TextChoices):
    NOTE = "note", _("Note")
    TRANSFER = "transfer", _("Transfer note")


class InternalNote(ShopOwned):
    """SPEC I3: a note on a conversation for staff only (never in the buyer's messages or
    stream); a transfer's note is one, for the receiving agent."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="internal_notes"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=NoteKind.choices, default=NoteKind.NOTE)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["conversation", "created_at", "id"]
        indexes = [models.Index(fields=["conversation", "created_at"], name="note_by_conversation")]

    def __str__(self) -> str:
        return f"note {self.pk} on {self.conversation_id}"


class Rating(ShopOwned):
    conversation = models.OneToOneField(
        Conversation, on_delete=models.CASCADE, related_name="rating"
    )
    score = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    comment = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)


class PrivateContact(ShopOwned):
    """B8: buyers whose conversations always go to the main account."""

    buyer = models.ForeignKey("shopdata.Buyer", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "buyer"], name="privatecontact_unique")
        ]


class IntentRule(ShopOwned):
    """The service assistant's intents (B4): a name and the keywords that reveal it."""

    name = models.CharField(max_length=64)
    keywords = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "name"], name="intentrule_unique_name")
        ]
        ordering = ["id"]
