"""Recording a change in the audit log (SPEC I5). Called by the service that makes the change,
inside its transaction: the row is committed with the change or not at all."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from django.utils import timezone

from apps.accounts.models import Account
from apps.audit.context import current_address
from apps.audit.models import ActorKind, AuditAction, AuditEntry, AuditTarget

SECRET = "[secret]"  # what a secret field's before and after read as


class Change(TypedDict):
    before: Any
    after: Any


@dataclass(frozen=True)
class AuditActor:
    """Who acted, when it is not an account: an API key (``kind`` api_key, ``name`` its
    prefix and name), or the system (``SYSTEM``)."""

    kind: ActorKind
    name: str
    account_id: int | None = None


SYSTEM = AuditActor(ActorKind.SYSTEM, "")


def actor_of(actor: Account | AuditActor | None) -> AuditActor:
    if actor is None:
        return SYSTEM
    if isinstance(actor, AuditActor):
        return actor
    return AuditActor(ActorKind.ACCOUNT, actor.username[:100], actor.pk)


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Change]:
    """The fields of ``after`` whose value differs from ``before``'s (missing counts as None)."""
    return {
        field: {"before": before.get(field), "after": value}
        for field, value in after.items()
        if before.get(field) != value
    }


def created(values: Mapping[str, Any]) -> dict[str, Change]:
    return {field: {"before": None, "after": value} for field, value in values.items()}


def deleted(values: Mapping[str, Any]) -> dict[str, Change]:
    return {field: {"before": value, "after": None} for field, value in values.items()}


def secret(*fields: str) -> dict[str, Change]:
    """That secrets changed, never their values."""
    return {field: {"before": SECRET, "after": SECRET} for field in fields}


def audit_record(
    *,
    shop_id: int,
    actor: Account | AuditActor | None,
    action: AuditAction,
    target_type: AuditTarget,
    target_id: object = "",
    target_name: str = "",
    changes: Mapping[str, Change] | None = None,
) -> AuditEntry:
    """One row: ``actor`` (None: the system) did ``action`` to the target, from the current
    request's address (``apps.audit.context``)."""
    who = actor_of(actor)
    return AuditEntry.objects.create(
        shop_id=shop_id,
        created_at=timezone.now(),
        actor_id=who.account_id,
        actor_kind=who.kind,
        actor_name=who.name[:100],
        address=current_address(),
        action=action,
        target_type=target_type,
        target_id=str(target_id or "")[:64],
        target_name=str(target_name or "")[:200],
        changes=dict(changes or {}),
    )


def audit_update(
    *,
    shop_id: int,
    actor: Account | AuditActor | None,
    action: AuditAction,
    target_type: AuditTarget,
    target_id: object = "",
    target_name: str = "",
    changes: Mapping[str, Change],
) -> AuditEntry | None:
    """``audit_record`` for a change, when something did change (a no-op update leaves no row)."""
    if not changes:
        return None
    return audit_record(
        shop_id=shop_id,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_name=target_name,
        changes=changes,
    )


def plain(values: Iterable[Any]) -> list[Any]:
    """A sorted list of a set-like value (permissions, ids) for a stable before/after."""
    return sorted(values, key=str)
