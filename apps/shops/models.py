"""The tenant (SPEC A1) and its settings (API.md, settings fields)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import (
    MaxValueValidator,
    MinValueValidator,
    RegexValidator,
    URLValidator,
)
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.models import ShopOwned


def default_business_hours() -> dict[str, Any]:
    """SPEC D2: 08:00-19:00 every day, no exceptions."""
    return {
        "weekly": [{"weekday": d, "start": "08:00", "end": "19:00"} for d in range(7)],
        "exceptions": [],
    }


def default_entrances() -> list[str]:
    return ["product", "order", "member"]


DEFAULT_WIDGET_COLOR = "#1f5fbf"


class WidgetPosition(models.TextChoices):
    """The corner of the shop's page where the embed script puts the widget's launcher."""

    RIGHT = "right", _("Bottom right")
    LEFT = "left", _("Bottom left")


ORDER_PLACEHOLDER = "{order}"
AFTER_SALE_PLACEHOLDER = "{after_sale}"
_BRACES = re.compile(r"[{}]")


class UrlTemplateValidator:
    """A link template of the shop's own pages (seed 002: 查看详情 opens the order's page): an
    http(s) URL in which ``placeholder`` (once or more) is the only ``{...}``, replaced by the
    record's external id. Empty means no link."""

    def __init__(self, placeholder: str) -> None:
        self.placeholder = placeholder

    def __call__(self, value: str) -> None:
        if not value:
            return
        if _BRACES.search(value.replace(self.placeholder, "")):
            raise ValidationError(
                _("Use no placeholder but %(placeholder)s."),
                code="placeholder",
                params={"placeholder": self.placeholder},
            )
        if not value.lower().startswith(("http://", "https://")):
            raise ValidationError(_("Enter an http:// or https:// address."), code="scheme")
        URLValidator(schemes=["http", "https"])(value.replace(self.placeholder, "x1"))

    def __eq__(self, other: object) -> bool:  # for migrations
        return isinstance(other, UrlTemplateValidator) and other.placeholder == self.placeholder

    def __hash__(self) -> int:
        return hash(self.placeholder)

    def deconstruct(self) -> tuple[str, tuple[str], dict[str, Any]]:
        return ("apps.shops.models.UrlTemplateValidator", (self.placeholder,), {})


def fill_url_template(template: str, placeholder: str, value: str) -> str | None:
    """The link of one record (SPEC E4, E5): the template with its placeholder replaced by the
    URL-quoted external id; None when the shop set no template."""
    if not template:
        return None
    return template.replace(placeholder, quote(value, safe=""))


def default_quota() -> int:
    return int(settings.HELPDESK_SUB_ACCOUNT_QUOTA)


class Shop(models.Model):
    slug = models.SlugField(_("slug"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=100)
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    sub_account_quota = models.PositiveIntegerField(_("sub-account quota"), default=default_quota)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("shop")
        verbose_name_plural = _("shops")
        # SPEC A4: object permissions on the shop, granted per sub-account (django-guardian).
        # Codenames are listed in apps.accounts.permissions; keep both in step.
        permissions = [
            ("chat", _("Receive buyers (IM permission)")),
            ("manage_routing", _("Manage groups, routing and queue settings")),
            ("manage_accounts", _("Manage sub-accounts")),
            ("manage_settings", _("Manage auto replies, quick replies, timeouts, hours")),
            ("view_all_history", _("View every conversation")),
            ("view_monitor", _("View the live board and metrics")),
            ("handle_orders", _("Handle orders and order notes")),
            ("handle_after_sales", _("Handle after-sales")),
            # SPEC I6: without it, buyers' phone numbers and addresses reach the account masked.
            ("view_buyer_info", _("See buyers' phone numbers and addresses")),
        ]

    def __str__(self) -> str:
        return self.slug


class AssignmentRule(models.TextChoices):
    CAPACITY = "capacity", _("Remaining capacity")
    EVEN = "even", _("Even distribution")


class QueueMode(models.TextChoices):
    OFF = "off", _("Off")
    SHOP = "shop", _("Whole shop")
    GROUPS = "groups", _("Chosen groups")


class QueueOrder(models.TextChoices):
    WAIT_FIRST = "wait_first", _("Longest waiting first")
    NEWEST_FIRST = "newest_first", _("Newest first")


class OfflineHandling(models.TextChoices):
    MAIN_ACCOUNT = "main_account", _("Main account")
    POOL = "pool", _("Message pool")


class AgentSilenceAction(models.TextChoices):
    CLOSE = "close", _("Close")
    REASSIGN = "reassign", _("Reassign")


RETENTION_DAYS_MAX = 3650  # SPEC I6: ten years; 0 keeps conversations for ever


def _seconds(default: int, minimum: int = 0) -> models.PositiveIntegerField:
    return models.PositiveIntegerField(default=default, validators=[MinValueValidator(minimum)])


class ShopSettings(models.Model):
    """One row per shop; every settings field of API.md, defaults from SPEC."""

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="settings")
    # Routing (SPEC B5-B11).
    assignment_rule = models.CharField(
        max_length=16, choices=AssignmentRule.choices, default=AssignmentRule.CAPACITY
    )
    recent_contact_first = models.BooleanField(default=False)
    buyer_chooses_agent = models.BooleanField(default=False)
    offline_routing = models.BooleanField(default=True)
    offline_grace_seconds = _seconds(90, 1)
    offline_handling = models.CharField(
        max_length=16, choices=OfflineHandling.choices, default=OfflineHandling.MAIN_ACCOUNT
    )
    pool_auto_assign = models.BooleanField(default=True)
    # Queue (SPEC C1-C6).
    queue_mode = models.CharField(max_length=8, choices=QueueMode.choices, default=QueueMode.SHOP)
    queue_groups = models.JSONField(default=list, blank=True)
    queue_order = models.CharField(
        max_length=16, choices=QueueOrder.choices, default=QueueOrder.WAIT_FIRST
    )
    default_max_concurrent = models.PositiveIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(50)]
    )
    agents_set_own_max = models.BooleanField(default=True)
    avg_handling_seconds = _seconds(600, 1)
    reentry_window_seconds = _seconds(600)
    # Automatic replies and timeouts (SPEC D1-D6); empty text means the translated default.
    welcome_enabled = models.BooleanField(default=True)
    welcome_text = models.TextField(blank=True)
    offhours_enabled = models.BooleanField(default=True)
    offhours_text = models.TextField(blank=True)
    queueing_enabled = models.BooleanField(default=True)
    queueing_text = models.TextField(blank=True)
    # Seed 001 (挂起): an agent who pauses has its buyers told it stepped away for a moment.
    paused_enabled = models.BooleanField(default=True)
    paused_text = models.TextField(blank=True)
    rating_enabled = models.BooleanField(default=True)
    # Amended decision: ending a conversation in the workbench asks for confirmation unless the
    # shop turns that off.
    confirm_end = models.BooleanField(default=True)
    buyer_silence_seconds = _seconds(300)
    buyer_warning_seconds = _seconds(120)
    buyer_warning_text = models.TextField(blank=True)
    buyer_close_text = models.TextField(blank=True)
    agent_silence_seconds = _seconds(180)
    agent_warning_seconds = _seconds(60)
    agent_warning_text = models.TextField(blank=True)
    agent_silence_action = models.CharField(
        max_length=16, choices=AgentSilenceAction.choices, default=AgentSilenceAction.CLOSE
    )
    business_hours = models.JSONField(default=default_business_hours)
    # Widget and entrances (SPEC F1, H3).
    entrances = models.JSONField(default=default_entrances)
    system_enabled = models.BooleanField(default=True)
    allow_anonymous_buyers = models.BooleanField(default=False)
    recent_orders_days = models.PositiveIntegerField(default=30)
    widget_origins = models.JSONField(default=list, blank=True)
    widget_secret = models.CharField(max_length=64)
    # How the widget looks on the buyer's phone (seed 003, 手机端的展示设置): its title (empty: the
    # shop's name), accent colour, the launcher's corner on the shop's page, and the greeting the
    # buyer reads before writing anything (empty: none; the assistant's greeting comes with the
    # conversation).
    widget_title = models.CharField(max_length=40, blank=True)
    widget_color = models.CharField(
        max_length=7,
        default=DEFAULT_WIDGET_COLOR,
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", _("A colour as #RRGGBB, e.g. #1f5fbf."))],
    )
    widget_position = models.CharField(
        max_length=8, choices=WidgetPosition.choices, default=WidgetPosition.RIGHT
    )
    widget_greeting = models.CharField(max_length=200, blank=True)
    # Bumped with every change of the shop's quick replies (SPEC D7), in the same transaction:
    # a process keeps the shop's keywords while this is unchanged, and a buyer's message, which
    # reads the settings anyway, needs no query to know whether any reply could match (0: the
    # shop never had one). Not a setting: the settings API neither shows nor takes it.
    quick_replies_version = models.PositiveIntegerField(default=0)
    # Links to the shop's own pages for an order and an after-sales record (seed 002: the order
    # and after-sales cards open the detail page), e.g. https://shop.example/orders/{order}.
    order_url_template = models.CharField(
        max_length=300, blank=True, validators=[UrlTemplateValidator(ORDER_PLACEHOLDER)]
    )
    after_sale_url_template = models.CharField(
        max_length=300, blank=True, validators=[UrlTemplateValidator(AFTER_SALE_PLACEHOLDER)]
    )
    # Seed 002 (请选择人工咨询问题): the widget offers the shop's intents as a "choose your
    # question" menu before the human button; the choice is the conversation's intent (B4).
    intent_menu_enabled = models.BooleanField(default=True)
    # The language of automatic messages buyers read (the texts above, when left empty).
    language = models.CharField(
        max_length=8, choices=[("zh-hans", "简体中文"), ("en", "English")], default="zh-hans"
    )
    # SPEC I6 (apps.safety, docs/safety.md). Bumped with every change of the shop's sensitive
    # words, in the same transaction, like ``quick_replies_version``: a process keeps the shop's
    # compiled words while it is unchanged, and a message, which reads the settings anyway,
    # needs no query to screen its text (0: the shop never had a word). Not a setting.
    sensitive_words_version = models.PositiveIntegerField(default=0)
    # Whether the sensitive words apply to the agents' messages too (buyers' always).
    sensitive_words_agents = models.BooleanField(default=True)
    # Closed conversations, their messages, notes and images are deleted this many days after
    # they closed (0: kept for ever).
    retention_days = models.PositiveIntegerField(
        default=365, validators=[MaxValueValidator(RETENTION_DAYS_MAX)]
    )

    def __str__(self) -> str:
        return f"settings of {self.shop_id}"

    def widget_appearance(self) -> dict[str, Any]:
        """What the widget page and the embed script show (seed 003's display settings)."""
        return {
            "title": self.widget_title or self.shop.name,
            "color": self.widget_color,
            "position": self.widget_position,
            "greeting": self.widget_greeting,
            "system_enabled": self.system_enabled,
            # Seed 004: the chat window says when the shop is in queue mode; seed 002: whether
            # the widget offers the intents as a question menu (GET /widget/intents/ lists them).
            "queue_mode": self.queue_mode,
            "intent_menu_enabled": self.intent_menu_enabled,
        }


class StaffMessage(ShopOwned):
    """Seed 001 (子帐号发给主帐号的消息不会分流): a message between a staff account and the
    shop's main account, inside the workbench; never a conversation, never routed."""

    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    body = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["shop", "recipient", "-created_at"], name="staffmsg_recipient"),
            models.Index(fields=["shop", "sender", "-created_at"], name="staffmsg_sender"),
        ]

    def __str__(self) -> str:
        return f"staff message {self.pk}"
