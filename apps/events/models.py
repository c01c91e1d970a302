"""The event outbox (DESIGN, events and delivery): one stream per recipient, numbered from 1."""

from __future__ import annotations

from django.db import models

from apps.core.models import ShopOwned


class RecipientKind(models.TextChoices):
    ACCOUNT = "account", "account"
    BUYER = "buyer", "buyer"


class StreamCounter(models.Model):
    """The last ``stream_seq`` given to a recipient; moved only by ``apps.events.services``."""

    recipient_kind = models.CharField(max_length=8, choices=RecipientKind.choices)
    recipient_id = models.BigIntegerField()
    last_seq = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["recipient_kind", "recipient_id"], name="streamcounter_unique_recipient"
            )
        ]

    def __str__(self) -> str:
        return f"{self.recipient_kind}:{self.recipient_id}@{self.last_seq}"


class Event(ShopOwned):
    recipient_kind = models.CharField(max_length=8, choices=RecipientKind.choices)
    recipient_id = models.BigIntegerField()
    stream_seq = models.BigIntegerField()
    type = models.CharField(max_length=40)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["recipient_kind", "recipient_id", "stream_seq"],
                name="event_unique_stream_seq",
            )
        ]

    def __str__(self) -> str:
        return f"{self.recipient_kind}:{self.recipient_id}#{self.stream_seq} {self.type}"
