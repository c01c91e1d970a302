"""API keys (SPEC H2; API.md, "Integration keys"): made, listed, revoked, and checked on every
request that presents one. Permission checks happen at the entry points."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import Account
from apps.audit.models import ActorKind, AuditAction, AuditTarget
from apps.audit.services import AuditActor, audit_record, created, deleted
from apps.core.errors import InvalidInput, NotFound
from apps.core.selectors import get_by_id
from apps.integrations.models import ApiKey
from apps.shops.models import Shop

KEY_PREFIX = "hk_"
# "hk_" and 43 URL-safe characters (32 random bytes): anything else is refused before hashing.
KEY_RE = re.compile(r"^hk_[A-Za-z0-9_-]{43}$")
PREFIX_LENGTH = len(KEY_PREFIX) + 8  # shown in lists, enough to tell keys apart
NAME_MAX = 100
KEYS_MAX = 50  # per shop
# ``last_used_at`` moves at most this often per key: a busy integration writes once a minute.
TOUCH_EVERY = timedelta(seconds=60)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class NewKey:
    """A key just made: ``key`` is never shown again."""

    api_key: ApiKey
    key: str


def key_actor(api_key: ApiKey) -> AuditActor:
    """The audit log's actor for what a key does (SPEC I5)."""
    return AuditActor(ActorKind.API_KEY, f"{api_key.prefix}… {api_key.name}")


def api_keys_of(*, shop_id: int) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(shop_id=shop_id).order_by("-created_at", "-id")


@transaction.atomic
def api_key_create(*, actor: Account, name: str) -> NewKey:
    """A new key for the actor's shop, named ``name``."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_("This field may not be blank."), field="name")
    if len(name) > NAME_MAX:
        raise InvalidInput(
            _("Ensure this field has no more than %(n)d characters.") % {"n": NAME_MAX},
            field="name",
        )
    # Counted with the shop's row locked, as sub-accounts are (A2): two requests at once cannot
    # both pass the limit.
    Shop.objects.select_for_update().get(pk=actor.shop_id)
    if ApiKey.objects.filter(shop_id=actor.shop_id).count() >= KEYS_MAX:
        raise InvalidInput(_("A shop has at most %(n)d API keys.") % {"n": KEYS_MAX})
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    assert KEY_RE.match(key)
    api_key = ApiKey.objects.create(
        shop_id=actor.shop_id,
        name=name,
        prefix=key[:PREFIX_LENGTH],
        key_hash=_hash(key),
        created_at=timezone.now(),
        created_by=actor,
    )
    audit_record(
        shop_id=actor.shop_id,
        actor=actor,
        action=AuditAction.API_KEY_CREATED,
        target_type=AuditTarget.API_KEY,
        target_id=api_key.pk,
        target_name=f"{api_key.prefix}… {name}",
        changes=created({"name": name, "prefix": api_key.prefix}),
    )
    return NewKey(api_key=api_key, key=key)


@transaction.atomic
def api_key_revoke(*, actor: Account, key_id: object) -> None:
    """Delete the key: the next request that presents it answers 401."""
    api_key = get_by_id(
        ApiKey.objects.select_for_update().filter(shop_id=actor.shop_id), key_id, _("No such key.")
    )
    audit_record(
        shop_id=actor.shop_id,
        actor=actor,
        action=AuditAction.API_KEY_REVOKED,
        target_type=AuditTarget.API_KEY,
        target_id=api_key.pk,
        target_name=f"{api_key.prefix}… {api_key.name}",
        changes=deleted({"name": api_key.name, "prefix": api_key.prefix}),
    )
    api_key.delete()


def api_key_check(key: str, *, now: datetime | None = None) -> ApiKey:
    """The key presented by a request, or ``NotFound`` (malformed, unknown or revoked). Moves
    its ``last_used_at`` when that is older than ``TOUCH_EVERY``: at most one write a minute
    per key, whatever the number of requests (a conditional UPDATE: two requests at once
    write once)."""
    if not KEY_RE.match(key or ""):
        raise NotFound(_("Invalid API key."))
    api_key = ApiKey.objects.filter(key_hash=_hash(key)).first()
    if api_key is None:
        raise NotFound(_("Invalid API key."))
    now = now or timezone.now()
    stale = now - TOUCH_EVERY
    if api_key.last_used_at is None or api_key.last_used_at < stale:
        ApiKey.objects.filter(pk=api_key.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale)
        ).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key
