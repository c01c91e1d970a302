"""The shop's integrations (SPEC H2, H4; API.md, "Integration keys, webhooks"): API keys its
systems call the API with, and the webhooks it is told of conversation events by, with each
event's delivery to each endpoint and every attempt of it (docs/integrations.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.core.models import ShopOwned


class ApiKey(ShopOwned):
    """H2: a named key of the shop. The key itself is shown once, when it is made; only its
    SHA-256 is kept (the key is 256 random bits: no slow hash is needed against guessing), and
    its first characters (``prefix``) to tell keys apart. Revoking deletes the row."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["shop", "-created_at"], name="apikey_shop_created")]

    def __str__(self) -> str:
        return f"{self.prefix}… {self.name}"


class Webhook(ShopOwned):
    """H4: an endpoint of the shop's systems and the event types it receives. ``secret`` keys
    the signature of every request (shown once, when it is made). Switched off
    (``is_active``) by the shop, or by the delivery when its last events all failed
    (``disabled_reason`` says why)."""

    url = models.CharField(max_length=500)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=64)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [models.Index(fields=["shop", "is_active"], name="webhook_shop_active")]

    def __str__(self) -> str:
        return f"webhook {self.pk} {self.url}"


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")  # every attempt failed
    CANCELLED = "cancelled", _("Cancelled")  # the webhook was switched off or deleted meanwhile


class WebhookDelivery(ShopOwned):
    """One event for one webhook: the body (signed and sent as it is on every attempt) and
    where its attempts stand. ``event_id`` is the ``X-Helpdesk-Delivery`` header and the body's
    ``id``: the same on every retry, and one event's id for all of the shop's webhooks."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField()
    type = models.CharField(max_length=40)
    body = models.TextField()
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # An attempt in progress (a worker's claim); another worker leaves it alone until then.
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["webhook", "event_id"], name="delivery_once_per_event")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state="pending"),
                name="delivery_pending_due",
            ),
            models.Index(
                fields=["webhook", "-finished_at"],
                condition=Q(state__in=["delivered", "failed"]),
                name="delivery_webhook_finished",
            ),
            models.Index(fields=["created_at"], name="delivery_created"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.event_id} to {self.webhook_id}"


class WebhookAttempt(ShopOwned):
    """One POST of a delivery (``GET /api/v1/webhooks/{id}/deliveries/`` lists them)."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveSmallIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    delivered = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["webhook", "-created_at"], name="attempt_webhook_time"),
            models.Index(fields=["created_at"], name="attempt_created"),  # /metrics: last hour
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"
