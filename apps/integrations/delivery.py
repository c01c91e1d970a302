"""Delivering webhook events (SPEC H4; API.md, "webhooks"; docs/integrations.md).

An event a shop's webhooks take becomes one ``WebhookDelivery`` per webhook (``event_fan_out``,
in the worker): its body is made once and sent as it is on every attempt, signed with the
webhook's secret over ``"<timestamp>.<body>"``. Each attempt (``delivery_attempt``) claims the
delivery (a lease: two workers never send it at once), re-checks that the webhook is active and
that its URL resolves to allowed addresses (``netguard``), POSTs with a 10 s timeout, follows no
redirect, and records the answer. A 2xx ends the delivery; anything else is tried again after
``HELPDESK_WEBHOOK_RETRY_BASE_SECONDS``, doubling, ``MAX_ATTEMPTS`` attempts in all. When the
last ``DISABLE_AFTER`` events of a webhook all failed, it is switched off with the reason, which
its API answer, the integrations page and the audit log show the main account."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.audit.models import AuditAction, AuditTarget
from apps.audit.services import audit_record
from apps.integrations import netguard, subscriptions
from apps.integrations.models import DeliveryState, Webhook, WebhookAttempt, WebhookDelivery
from apps.shops.models import Shop, ShopSettings

MAX_ATTEMPTS = 8
DISABLE_AFTER = 8  # the last events of a webhook that all failed switch it off
TIMEOUT_SECONDS = 10.0
LEASE = timedelta(seconds=120)  # longer than an attempt can take (connect, send, answer)
# A retry this far ahead or less waits in the broker (a countdown, well inside the one-hour
# visibility timeout); later ones, and any whose task was lost, are sent by the sweep.
MAX_COUNTDOWN_SECONDS = 900
SWEEP_GRACE = timedelta(seconds=60)  # due this long ago and still pending: its task was lost
USER_AGENT = "ShopHelpdesk-Webhooks/1"
ERROR_MAX = 300


def retry_delay(failed_attempt: int) -> timedelta:
    """After the ``failed_attempt``-th attempt failed: the base, doubling (30 s, 60 s, ...)."""
    base = float(settings.HELPDESK_WEBHOOK_RETRY_BASE_SECONDS)
    return timedelta(seconds=base * 2 ** (failed_attempt - 1))


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 keyed with the secret over "<timestamp>.<raw body>">``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


# ---------------------------------------------------------------------------------------------
# An event becomes deliveries


def event_body(*, event: Mapping[str, str], shop_slug: str) -> str:
    """``{"id", "type", "created_at", "shop", "data"}``: ``data`` is the socket event's."""
    return json.dumps(
        {
            "id": event["id"],
            "type": event["type"],
            "created_at": event["created_at"],
            "shop": shop_slug,
            "data": json.loads(event["data"]),
        },
        separators=(",", ":"),
    )


def event_fan_out(*, shop_id: int, event: Mapping[str, str]) -> list[int]:
    """The deliveries of ``event`` (as ``apps.integrations.publish`` sends it) to the shop's
    active webhooks that take its type, due now. Idempotent: a repeated event (the task run
    twice) makes no second delivery; its pending first attempts are returned again."""
    webhooks = [
        w
        for w in Webhook.objects.filter(shop_id=shop_id, is_active=True).order_by("pk")
        if event["type"] in w.events
    ]
    if not webhooks:
        return []
    slug = Shop.objects.values_list("slug", flat=True).get(pk=shop_id)
    body = event_body(event=event, shop_slug=slug)
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                shop_id=shop_id,
                webhook=webhook,
                event_id=event["id"],
                type=event["type"],
                body=body,
                next_attempt_at=now,
                created_at=now,
            )
            for webhook in webhooks
        ],
        ignore_conflicts=True,
    )
    return list(
        WebhookDelivery.objects.filter(
            shop_id=shop_id,
            event_id=event["id"],
            webhook__in=webhooks,
            state=DeliveryState.PENDING,
            attempts=0,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


# ---------------------------------------------------------------------------------------------
# One attempt


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    error: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def send(url: str, *, body: bytes, headers: Mapping[str, str]) -> Answer:
    """POST ``body`` to ``url``, connecting to the address ``netguard`` checked (the name goes
    in ``Host`` and TLS's SNI, where the certificate is verified against it). No redirect is
    followed, no proxy from the environment is used, the answer's body is not read."""
    try:
        target = netguard.check(url)
    except netguard.Refused as refused:
        return Answer(None, str(refused)[:ERROR_MAX])
    extensions: dict[str, Any] = {}
    if target.parts.scheme == "https" and target.sni_hostname:
        extensions["sni_hostname"] = target.sni_hostname
    try:
        with (
            httpx.Client(
                timeout=TIMEOUT_SECONDS, follow_redirects=False, trust_env=False
            ) as client,
            client.stream(
                "POST",
                target.connect_url,
                content=body,
                headers={**headers, "Host": target.host_header},
                extensions=extensions,
            ) as response,
        ):
            code = response.status_code
    except httpx.TimeoutException:
        return Answer(None, f"timeout after {TIMEOUT_SECONDS:g} s")
    except httpx.HTTPError as error:
        return Answer(None, f"{type(error).__name__}: {error}"[:ERROR_MAX])
    except (OSError, ValueError) as error:  # whatever else the network says: a failed attempt
        return Answer(None, f"{type(error).__name__}: {error}"[:ERROR_MAX])
    return Answer(code, "" if 200 <= code < 300 else f"HTTP {code}")


@dataclass(frozen=True)
class Outcome:
    """What ``delivery_attempt`` did: ``attempted`` (False: not due, taken by another worker,
    finished, or its webhook is off), ``delivered``, and when the next attempt is due."""

    delivery_id: int
    attempted: bool
    delivered: bool = False
    retry_at: datetime | None = None
    gave_up: bool = False


def _claim(delivery_id: int, now: datetime) -> bool:
    return bool(
        WebhookDelivery.objects.filter(
            pk=delivery_id, state=DeliveryState.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + LEASE)
    )


def _headers(delivery: WebhookDelivery, timestamp: int, number: int, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Helpdesk-Event": delivery.type,
        "X-Helpdesk-Delivery": str(delivery.event_id),
        "X-Helpdesk-Timestamp": str(timestamp),
        "X-Helpdesk-Signature": signature(delivery.webhook.secret, timestamp, body),
        "X-Helpdesk-Attempt": str(number),
    }


def delivery_attempt(*, delivery_id: int) -> Outcome:
    """One attempt of the delivery if it is due (see the module's docstring). Idempotent: a
    delivered or failed delivery is never sent again, one not due yet is left for later."""
    now = timezone.now()
    if not _claim(delivery_id, now):
        return Outcome(delivery_id, attempted=False)
    delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    if not delivery.webhook.is_active:
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            state=DeliveryState.CANCELLED, lease_until=None, next_attempt_at=None, finished_at=now
        )
        return Outcome(delivery_id, attempted=False)
    number = delivery.attempts + 1
    body = delivery.body.encode()
    timestamp = int(time.time())
    answer = send(
        delivery.webhook.url, body=body, headers=_headers(delivery, timestamp, number, body)
    )
    return _record(delivery, number, answer)


@transaction.atomic
def _record(delivery: WebhookDelivery, number: int, answer: Answer) -> Outcome:
    done = timezone.now()
    WebhookAttempt.objects.create(
        shop_id=delivery.shop_id,
        delivery=delivery,
        webhook_id=delivery.webhook_id,
        number=number,
        status_code=answer.status_code,
        error=answer.error[:ERROR_MAX],
        delivered=answer.ok,
        created_at=done,
    )
    retry_at = None
    if answer.ok:
        state = DeliveryState.DELIVERED
    elif number >= MAX_ATTEMPTS:
        state = DeliveryState.FAILED
    else:
        state, retry_at = DeliveryState.PENDING, done + retry_delay(number)
    finished = None if state == DeliveryState.PENDING else done
    # Only over the attempt this worker claimed: a late duplicate changes nothing.
    WebhookDelivery.objects.filter(
        pk=delivery.pk, state=DeliveryState.PENDING, attempts=number - 1
    ).update(
        attempts=number,
        state=state,
        next_attempt_at=retry_at,
        finished_at=finished,
        lease_until=None,
    )
    gave_up = state == DeliveryState.FAILED
    if gave_up:
        _switch_off_if_failing(delivery.webhook_id, answer.error)
    return Outcome(
        delivery.pk, attempted=True, delivered=answer.ok, retry_at=retry_at, gave_up=gave_up
    )


def _switch_off_if_failing(webhook_id: int, last_error: str) -> bool:
    """H4: a webhook whose last ``DISABLE_AFTER`` events all failed is switched off, with the
    reason in the shop's language; its pending deliveries are cancelled."""
    webhook = Webhook.objects.select_for_update().get(pk=webhook_id)
    if not webhook.is_active:
        return False
    last = list(
        WebhookDelivery.objects.filter(
            webhook_id=webhook_id, state__in=[DeliveryState.DELIVERED, DeliveryState.FAILED]
        )
        .order_by("-finished_at", "-id")
        .values_list("state", flat=True)[:DISABLE_AFTER]
    )
    if len(last) < DISABLE_AFTER or any(state != DeliveryState.FAILED for state in last):
        return False
    now = timezone.now()
    language = (
        ShopSettings.objects.filter(shop_id=webhook.shop_id)
        .values_list("language", flat=True)
        .first()
    )
    with translation.override(language or "en"):
        reason = _(
            "Switched off: the last %(n)d events could not be delivered (%(attempts)d attempts "
            "each). Last error: %(error)s"
        ) % {"n": DISABLE_AFTER, "attempts": MAX_ATTEMPTS, "error": last_error or "-"}
    webhook.is_active = False
    webhook.disabled_at = now
    webhook.disabled_reason = reason[:500]
    webhook.save(update_fields=["is_active", "disabled_at", "disabled_reason"])
    WebhookDelivery.objects.filter(webhook_id=webhook_id, state=DeliveryState.PENDING).update(
        state=DeliveryState.CANCELLED, next_attempt_at=None, finished_at=now, lease_until=None
    )
    audit_record(
        shop_id=webhook.shop_id,
        actor=None,
        action=AuditAction.WEBHOOK_DISABLED,
        target_type=AuditTarget.WEBHOOK,
        target_id=webhook.pk,
        target_name=webhook.url,
        changes={
            "is_active": {"before": True, "after": False},
            "disabled_reason": {"before": "", "after": webhook.disabled_reason},
        },
    )
    subscriptions.changed(webhook.shop_id)
    return True


# ---------------------------------------------------------------------------------------------
# The sweep and the log's retention


def deliveries_due(*, now: datetime | None = None, grace: timedelta = SWEEP_GRACE) -> list[int]:
    """Pending deliveries due ``grace`` ago or earlier and not being attempted: retries too far
    ahead for a countdown, and any whose task was lost (a worker or the broker restarted)."""
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(
            state=DeliveryState.PENDING, next_attempt_at__lte=now - grace
        )
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:1000]
    )


DELETE_BATCH = 5000


def deliveries_delete_old(*, now: datetime | None = None) -> int:
    """Deliveries (and their attempts) older than ``HELPDESK_WEBHOOK_LOG_DAYS`` that are
    finished, in batches. Returns how many deliveries were deleted."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.HELPDESK_WEBHOOK_LOG_DAYS)
    deleted = 0
    while True:
        ids = list(
            WebhookDelivery.objects.filter(created_at__lt=cutoff)
            .exclude(state=DeliveryState.PENDING)
            .values_list("pk", flat=True)[:DELETE_BATCH]
        )
        if not ids:
            return deleted
        WebhookDelivery.objects.filter(pk__in=ids).delete()
        deleted += len(ids)
