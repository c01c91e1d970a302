"""The audit log (SPEC I5, 操作日志): who changed which account, permission, setting, group, API
key, webhook, sensitive word or blocked buyer (SPEC I6), when and from which address. Rows are
written by the services that make the change, in the change's own transaction
(``apps.audit.services.audit_record``), and never changed afterwards; the main account reads them
(``GET /api/v1/audit/``, the audit page)."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.models import ShopOwned


class AuditAction(models.TextChoices):
    ACCOUNT_CREATED = "account.created", _("Account created")
    ACCOUNT_UPDATED = "account.updated", _("Account changed")
    ACCOUNT_PASSWORD_RESET = "account.password_reset", _("Password reset")
    ACCOUNT_DELETED = "account.deleted", _("Account deleted")
    SETTINGS_UPDATED = "settings.updated", _("Settings changed")
    WIDGET_SECRET_ROTATED = "settings.widget_secret_rotated", _("Widget secret rotated")
    SHOP_UPDATED = "shop.updated", _("Shop profile changed")
    GROUP_CREATED = "group.created", _("Group created")
    GROUP_UPDATED = "group.updated", _("Group changed")
    GROUP_DELETED = "group.deleted", _("Group deleted")
    API_KEY_CREATED = "api_key.created", _("API key created")
    API_KEY_REVOKED = "api_key.revoked", _("API key revoked")
    WEBHOOK_CREATED = "webhook.created", _("Webhook created")
    WEBHOOK_UPDATED = "webhook.updated", _("Webhook changed")
    WEBHOOK_DELETED = "webhook.deleted", _("Webhook deleted")
    WEBHOOK_DISABLED = "webhook.disabled", _("Webhook switched off after failures")
    # SPEC I6's lists
    SENSITIVE_WORD_CREATED = "sensitive_word.created", _("Sensitive word added")
    SENSITIVE_WORD_UPDATED = "sensitive_word.updated", _("Sensitive word changed")
    SENSITIVE_WORD_DELETED = "sensitive_word.deleted", _("Sensitive word removed")
    BUYER_BLOCKED = "buyer.blocked", _("Buyer blocked")
    BUYER_BLOCK_UPDATED = "buyer.block_updated", _("Block reason changed")
    BUYER_UNBLOCKED = "buyer.unblocked", _("Buyer unblocked")


class AuditTarget(models.TextChoices):
    ACCOUNT = "account", _("Account")
    SETTINGS = "settings", _("Settings")
    SHOP = "shop", _("Shop")
    GROUP = "group", _("Group")
    API_KEY = "api_key", _("API key")
    WEBHOOK = "webhook", _("Webhook")
    SENSITIVE_WORD = "sensitive_word", _("Sensitive word")
    BUYER = "buyer", _("Buyer")  # a blocked buyer, by its external id


class ActorKind(models.TextChoices):
    ACCOUNT = "account", _("Account")
    API_KEY = "api_key", _("API key")
    SYSTEM = "system", _("System")


class AuditEntry(ShopOwned):
    created_at = models.DateTimeField()
    # Who: an account (kept by name once it is deleted), an API key, or the system.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_kind = models.CharField(max_length=8, choices=ActorKind.choices)
    actor_name = models.CharField(max_length=100, blank=True)
    # From where: the client's address (apps.core.clientip), null outside a request.
    address = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    target_type = models.CharField(max_length=16, choices=AuditTarget.choices)
    target_id = models.CharField(max_length=64, blank=True)
    target_name = models.CharField(max_length=200, blank=True)
    # What: {field: {"before": ..., "after": ...}}; secrets never appear, only that they changed.
    changes = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    objects: ClassVar[models.Manager[AuditEntry]] = models.Manager()

    class Meta:
        indexes = [
            models.Index(fields=["shop", "-created_at", "-id"], name="audit_shop_time"),
            models.Index(fields=["shop", "target_type", "target_id"], name="audit_shop_target"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type} {self.target_id}"
