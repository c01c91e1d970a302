"""Routing state that exists from the foundation on: groups (SPEC B3) and each agent's state."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import AccountKind, ShopAccountPermission
from apps.core.models import ShopOwned


class AgentStatus(models.TextChoices):
    ONLINE = "online", _("Online")
    PAUSED = "paused", _("Paused")
    OFFLINE = "offline", _("Offline")


class Group(ShopOwned):
    """A routing group (SPEC B3) with an optional reception scope (SPEC B4)."""

    name = models.CharField(_("name"), max_length=64)
    max_concurrent = models.PositiveIntegerField(
        _("default max concurrent"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
    )
    scope_segments = models.JSONField(default=list, blank=True)
    scope_products = models.JSONField(default=list, blank=True)
    scope_intents = models.JSONField(default=list, blank=True)
    scope_order_statuses = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "name"], name="group_unique_name_per_shop")
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


def chat_holders(shop_id: int) -> models.QuerySet[ShopAccountPermission]:
    """The shop's grants of the ``chat`` permission (A4); the main account chats without one."""
    return ShopAccountPermission.objects.filter(
        content_object_id=shop_id, permission__codename="chat"
    )


def receives_buyers(shop_id: int) -> models.Q:
    """A4, the one definition of who may be given buyers: an active account, the main one or
    one with the ``chat`` permission. The queries below filter by it and the routing snapshot
    reads it as a column (``engine.Agent.can_chat``), so the two never disagree."""
    return models.Q(account__is_active=True) & (
        models.Q(account__kind=AccountKind.MAIN)
        | models.Q(account_id__in=chat_holders(shop_id).values("user_id"))
    )


class AgentStateQuerySet(models.QuerySet["AgentState"]):
    def present(self) -> AgentStateQuerySet:
        """Online or paused, on an active account: can keep and get back its buyers (SPEC
        vocabulary; ``engine.Agent.present`` is the same rule on the snapshot)."""
        return self.filter(
            status__in=[AgentStatus.ONLINE, AgentStatus.PAUSED], account__is_active=True
        )

    def receiving_buyers(self, shop_id: int) -> AgentStateQuerySet:
        """The shop's accounts that may be given buyers (``receives_buyers``)."""
        return self.filter(shop_id=shop_id).filter(receives_buyers(shop_id))


class AgentState(ShopOwned):
    """Per-account routing state (DESIGN, data model). Counters move only inside services."""

    objects = AgentStateQuerySet.as_manager()

    account = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_state"
    )
    status = models.CharField(
        max_length=8, choices=AgentStatus.choices, default=AgentStatus.OFFLINE
    )
    routing_enabled = models.BooleanField(default=True)
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    weight = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    # Own override of the group's and the shop's max concurrent (SPEC C1); null = inherited.
    max_concurrent = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(50)]
    )
    open_count = models.PositiveIntegerField(default=0)
    # Smooth weighted round-robin state of the even rule (SPEC B5), valid for wrr_day only.
    wrr_current = models.IntegerField(default=0)
    wrr_day = models.DateField(null=True, blank=True)
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # Presence: the last heartbeat (status call or socket ping).
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["last_seen_at"],
                name="agentstate_present_idx",
                condition=~models.Q(status="offline"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id}:{self.status}"


class StatusChange(ShopOwned):
    """Every status change, for the metrics of SPEC G3 (time online and paused)."""

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="status_changes"
    )
    status = models.CharField(max_length=8, choices=AgentStatus.choices)
    reason = models.CharField(max_length=16)
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["shop", "at"]),
            # G3: an agent's status when a day starts (its last change before), per account.
            models.Index(fields=["account", "at"], name="statuschange_account_at"),
        ]
