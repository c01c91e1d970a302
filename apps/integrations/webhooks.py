"""Webhook subscriptions (SPEC H4; API.md, "webhooks"): made, changed, deleted, listed.
Permission checks happen at the entry points; ``actor`` is an account or an API key's
``AuditActor`` (a key manages its shop's webhooks too)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import Account
from apps.audit.models import AuditAction, AuditTarget
from apps.audit.services import AuditActor, audit_record, audit_update, created, deleted, diff
from apps.core.errors import InvalidInput
from apps.core.selectors import get_by_id
from apps.core.types import UNSET, Unset
from apps.integrations import netguard, subscriptions
from apps.integrations.models import DeliveryState, Webhook, WebhookAttempt, WebhookDelivery
from apps.shops.models import Shop

WEBHOOKS_MAX = 20  # per shop
Actor = Account | AuditActor


@dataclass(frozen=True)
class NewWebhook:
    """A webhook just made: its ``secret`` is shown this once."""

    webhook: Webhook
    secret: str


def checked_url(url: str) -> str:
    """``url`` when a webhook may send there now (``netguard.check``), else ``InvalidInput``."""
    try:
        netguard.check(url)
    except netguard.Refused as refused:
        raise InvalidInput(str(refused), field="url") from None
    return url


def checked_events(events: Sequence[str]) -> list[str]:
    """The event types, each once, in the documented order; unknown ones refused."""
    known = subscriptions.declared()
    chosen = list(dict.fromkeys(events))
    unknown = [e for e in chosen if e not in known]
    if unknown:
        raise InvalidInput(
            _("Unknown event types: %(types)s. Known: %(known)s.")
            % {"types": ", ".join(unknown), "known": ", ".join(known)},
            field="events",
        )
    if not chosen:
        raise InvalidInput(_("Choose at least one event type."), field="events")
    return [e for e in known if e in chosen]


def webhooks_of(*, shop_id: int) -> QuerySet[Webhook]:
    return Webhook.objects.filter(shop_id=shop_id).order_by("-created_at", "-id")


def webhook_get(*, shop_id: int, webhook_id: object, lock: bool = False) -> Webhook:
    rows = Webhook.objects.filter(shop_id=shop_id)
    if lock:
        rows = rows.select_for_update()
    return get_by_id(rows, webhook_id, _("No such webhook."))


def attempts_of(*, webhook: Webhook) -> QuerySet[WebhookAttempt]:
    """The webhook's delivery log, newest first."""
    return (
        WebhookAttempt.objects.filter(shop_id=webhook.shop_id, webhook=webhook)
        .select_related("delivery")
        .order_by("-created_at", "-id")
    )


def _audited(webhook: Webhook) -> dict[str, object]:
    return {"url": webhook.url, "events": list(webhook.events), "is_active": webhook.is_active}


@transaction.atomic
def webhook_create(*, shop_id: int, actor: Actor, url: str, events: Sequence[str]) -> NewWebhook:
    """A new active webhook; its URL's addresses are checked now (and at every delivery)."""
    events = checked_events(events)
    url = checked_url(url)
    Shop.objects.select_for_update().get(pk=shop_id)  # the limit holds under concurrent calls
    if Webhook.objects.filter(shop_id=shop_id).count() >= WEBHOOKS_MAX:
        raise InvalidInput(_("A shop has at most %(n)d webhooks.") % {"n": WEBHOOKS_MAX})
    secret = secrets.token_hex(32)
    webhook = Webhook.objects.create(
        shop_id=shop_id, url=url, events=events, secret=secret, created_at=timezone.now()
    )
    audit_record(
        shop_id=shop_id,
        actor=actor,
        action=AuditAction.WEBHOOK_CREATED,
        target_type=AuditTarget.WEBHOOK,
        target_id=webhook.pk,
        target_name=url,
        changes=created(_audited(webhook)),
    )
    subscriptions.changed(shop_id)
    return NewWebhook(webhook=webhook, secret=secret)


@transaction.atomic
def webhook_update(
    *,
    shop_id: int,
    actor: Actor,
    webhook_id: object,
    url: str | Unset = UNSET,
    events: Sequence[str] | Unset = UNSET,
    is_active: bool | Unset = UNSET,
) -> Webhook:
    """Change a webhook; switching it back on clears why it was switched off."""
    webhook = webhook_get(shop_id=shop_id, webhook_id=webhook_id, lock=True)
    before = _audited(webhook)
    if events is not UNSET:
        webhook.events = checked_events(events)
    if url is not UNSET:
        webhook.url = checked_url(url)
    if is_active is not UNSET and is_active != webhook.is_active:
        webhook.is_active = is_active
        if is_active:
            webhook.disabled_at, webhook.disabled_reason = None, ""
        else:
            webhook.disabled_at, webhook.disabled_reason = timezone.now(), ""
    webhook.save()
    audit_update(
        shop_id=shop_id,
        actor=actor,
        action=AuditAction.WEBHOOK_UPDATED,
        target_type=AuditTarget.WEBHOOK,
        target_id=webhook.pk,
        target_name=webhook.url,
        changes=diff(before, _audited(webhook)),
    )
    subscriptions.changed(shop_id)
    return webhook


@transaction.atomic
def webhook_delete(*, shop_id: int, actor: Actor, webhook_id: object) -> None:
    """Delete a webhook, its deliveries and their log: nothing more is sent to it."""
    webhook = webhook_get(shop_id=shop_id, webhook_id=webhook_id, lock=True)
    audit_record(
        shop_id=shop_id,
        actor=actor,
        action=AuditAction.WEBHOOK_DELETED,
        target_type=AuditTarget.WEBHOOK,
        target_id=webhook.pk,
        target_name=webhook.url,
        changes=deleted(_audited(webhook)),
    )
    webhook.delete()
    subscriptions.changed(shop_id)


def pending_count(*, webhook: Webhook) -> int:
    return WebhookDelivery.objects.filter(webhook=webhook, state=DeliveryState.PENDING).count()
