"""Changing the shop's settings (API.md, settings fields; SPEC B, C, D) and what that does to the
conversations already open, in one transaction. Permission checks happen at the entry points
(``ROUTING_FIELDS`` tells them which fields need ``manage_routing``)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import Account
from apps.audit.models import AuditAction, AuditTarget
from apps.audit.services import audit_record, audit_update, diff, secret
from apps.automation import hours
from apps.conversations import events
from apps.conversations.lifecycle import settings_changed
from apps.core.errors import InvalidFields, InvalidInput
from apps.routing.locking import lock_shop
from apps.routing.models import Group
from apps.shops.models import ShopSettings

# SPEC A4: groups, routing and queue settings need manage_routing; the rest manage_settings.
# A change to one of them may move open conversations; the others never do (business hours
# only choose the D2 reply, SPEC D; timeouts and texts apply from the next message).
ROUTING_FIELDS = frozenset(
    {
        "assignment_rule",
        "recent_contact_first",
        "buyer_chooses_agent",
        "queue_mode",
        "queue_groups",
        "queue_order",
        "default_max_concurrent",
        "agents_set_own_max",
        "avg_handling_seconds",
        "reentry_window_seconds",
        "offline_routing",
        "offline_grace_seconds",
        "offline_handling",
        "pool_auto_assign",
    }
)
# Never written through an update: rotated by ``widget_secret_rotate`` alone.
READ_ONLY_FIELDS = frozenset(
    {"id", "shop", "shop_id", "widget_secret", "quick_replies_version", "sensitive_words_version"}
)

DURATION_FIELDS = (
    "avg_handling_seconds",
    "reentry_window_seconds",
    "offline_grace_seconds",
    "buyer_silence_seconds",
    "buyer_warning_seconds",
    "agent_silence_seconds",
    "agent_warning_seconds",
)
SILENCE_FIELDS = DURATION_FIELDS[3:]  # buyer and agent silence and their warnings
MAX_TIMEOUT = 7 * 24 * 3600  # a week: longer is a typo, not a timeout
# Automatic texts (SPEC D): empty means the default in the shop's language.
TEXT_FIELDS = (
    "welcome_text",
    "offhours_text",
    "queueing_text",
    "paused_text",
    "buyer_warning_text",
    "buyer_close_text",
    "agent_warning_text",
)
MAX_TEXT = 1000


def _writable() -> frozenset[str]:
    return frozenset(f.name for f in ShopSettings._meta.concrete_fields) - READ_ONLY_FIELDS


def _problems(settings: ShopSettings, changes: dict[str, Any]) -> dict[str, list[str]]:
    """The rules that hold between fields, checked on the merged values (the row is locked, so
    two requests changing a warning and its timeout cannot each pass alone), and the groups of
    C2 named within the shop (another shop's group reads as unknown, SPEC A1)."""
    merged = {f: int(changes.get(f, getattr(settings, f)) or 0) for f in DURATION_FIELDS}
    errors: dict[str, list[str]] = {}
    # A warning comes before its timeout (SPEC D, API.md).
    for warning, timeout in (
        ("buyer_warning_seconds", "buyer_silence_seconds"),
        ("agent_warning_seconds", "agent_silence_seconds"),
    ):
        if merged[timeout] and merged[warning] and merged[warning] >= merged[timeout]:
            errors[warning] = [_("The warning must come before the timeout.")]
    for positive in ("avg_handling_seconds", "offline_grace_seconds"):
        if merged[positive] < 1:
            errors[positive] = [_("Ensure this value is at least 1.")]
    # SPEC D5, D6: 0 switches a timeout or its warning off; a week at most.
    for timeout in SILENCE_FIELDS:
        if merged[timeout] > MAX_TIMEOUT:
            errors[timeout] = [_("Ensure this value is at most %(n)d.") % {"n": MAX_TIMEOUT}]
    for text in TEXT_FIELDS:
        if len(changes.get(text) or "") > MAX_TEXT:
            errors[text] = [_("Ensure this text has at most %(n)d characters.") % {"n": MAX_TEXT}]
    if "business_hours" in changes:  # the entry points check the shape; the rules hold here
        try:
            found = hours.problems(changes["business_hours"])
        except (AttributeError, KeyError, TypeError, ValueError):
            found = [_("Not a valid business hours value.")]
        if found:
            errors["business_hours"] = found
    # Seed 002: links to the shop's order and after-sales pages (http(s), one placeholder).
    for field in ("order_url_template", "after_sale_url_template"):
        if field in changes:
            try:
                template_field = ShopSettings._meta.get_field(field)
                assert isinstance(template_field, models.CharField)
                template_field.run_validators(changes[field] or "")
            except DjangoValidationError as error:
                errors[field] = list(error.messages)
    if "queue_groups" in changes:
        wanted = {int(g) for g in changes["queue_groups"]}
        known = set(
            Group.objects.filter(shop_id=settings.shop_id, pk__in=wanted).values_list(
                "pk", flat=True
            )
        )
        unknown = sorted(wanted - known)
        if unknown:
            errors["queue_groups"] = [_("Unknown groups: %(ids)s") % {"ids": unknown}]
    return errors


@transaction.atomic
def settings_update(
    *, actor: Account, changes: dict[str, Any], now: datetime | None = None
) -> ShopSettings:
    """Change the actor's shop's settings (any subset of API.md's fields, already parsed) and,
    in the same transaction, move what the change moves:

    - a raised max (shop default) or the pool's auto-assign switched on: free slots take
      waiting buyers, the queue first (C1, C3, B11);
    - the queue switched off, or a group taken out of the queueing groups: its waiting buyers
      are decided again with max not enforced (C2);
    - offline routing switched on: what agents kept as offline messages is re-routed (B9a);
    - the other routing fields (rule, order, windows, offline handling) apply from the next
      decision; a lowered max takes nothing from anyone (C1). Business hours never move a
      conversation (SPEC D), nor do texts and timeouts.

    The work is ``lifecycle.settings_changed``, the only writer of conversation state.

    Bad values raise ``InvalidFields`` with every field's messages; nothing is written then, and
    a failure while re-routing undoes the change as well.
    """
    now = now or timezone.now()
    unknown = sorted(set(changes) - _writable())
    if unknown:
        raise InvalidInput(_("Unknown settings: %(names)s") % {"names": ", ".join(unknown)})
    # The shop's routing lock before any row (the lock order of every routing transition).
    lock_shop(actor.shop_id)
    settings = (
        ShopSettings.objects.select_for_update(of=("self",))
        .select_related("shop")
        .get(shop_id=actor.shop_id)
    )
    errors = _problems(settings, changes)
    if errors:
        raise InvalidFields(errors)
    changes = dict(changes)
    if "queue_groups" in changes:
        changes["queue_groups"] = sorted({int(g) for g in changes["queue_groups"]})
    routing_moved = {
        f for f in changes if f in ROUTING_FIELDS and getattr(settings, f) != changes[f]
    }
    before = {field: getattr(settings, field) for field in changes}
    for field, value in changes.items():
        setattr(settings, field, value)
    if changes:
        settings.save(update_fields=sorted(changes))
    audit_update(  # SPEC I5: each changed field, before and after
        shop_id=actor.shop_id,
        actor=actor,
        action=AuditAction.SETTINGS_UPDATED,
        target_type=AuditTarget.SETTINGS,
        target_id=actor.shop_id,
        target_name=settings.shop.name,
        changes=diff(before, changes),
    )
    events.monitor_changed(actor.shop_id)  # G2: the effective max of the board's agents
    if routing_moved:
        settings_changed(
            shop_id=actor.shop_id,
            offline_routing_resumed="offline_routing" in routing_moved and settings.offline_routing,
            now=now,
        )
    return settings


@transaction.atomic
def widget_secret_rotate(*, actor: Account) -> str:
    """H3: a new widget secret for the actor's shop; signatures made with the old one fail.
    The main account alone (checked at the entry point)."""
    settings = ShopSettings.objects.select_for_update().get(shop_id=actor.shop_id)
    settings.widget_secret = secrets.token_hex(32)
    settings.save(update_fields=["widget_secret"])
    audit_record(
        shop_id=actor.shop_id,
        actor=actor,
        action=AuditAction.WIDGET_SECRET_ROTATED,
        target_type=AuditTarget.SETTINGS,
        target_id=actor.shop_id,
        changes=secret("widget_secret"),
    )
    return settings.widget_secret
