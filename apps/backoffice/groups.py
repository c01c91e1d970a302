"""Routing groups (SPEC B2-B4, C1, C2): create, change, delete, each with what it does to the
open conversations in the same transaction. Permission checks happen at the entry points;
every lookup is scoped to the actor's shop (another shop's group answers 404, SPEC A1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import Account
from apps.audit.models import AuditAction, AuditTarget
from apps.audit.services import audit_record, audit_update, created, deleted, diff
from apps.conversations import events
from apps.conversations.lifecycle import capacity_changed, group_removed
from apps.core.errors import InvalidInput, NotFound
from apps.core.types import UNSET, Unset
from apps.routing.locking import lock_shop
from apps.routing.models import Group
from apps.shops.models import ShopSettings

MAX_NAME = 64  # Group.name


@dataclass(frozen=True)
class GroupScope:
    """B4: the four dimensions of a reception scope; empty lists match nothing on that one."""

    segments: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)
    order_statuses: list[str] = field(default_factory=list)

    def columns(self) -> dict[str, list[str]]:
        """The model's columns, each value once, sorted."""
        return {
            "scope_segments": sorted({v.strip() for v in self.segments if v.strip()}),
            "scope_products": sorted({v.strip() for v in self.products if v.strip()}),
            "scope_intents": sorted({v.strip() for v in self.intents if v.strip()}),
            "scope_order_statuses": sorted(set(self.order_statuses)),
        }


def _audited(group: Group) -> dict[str, object]:
    """SPEC I5: what the audit log records of a group."""
    return {
        "name": group.name,
        "max_concurrent": group.max_concurrent,
        "scope_segments": list(group.scope_segments),
        "scope_products": list(group.scope_products),
        "scope_intents": list(group.scope_intents),
        "scope_order_statuses": list(group.scope_order_statuses),
    }


def group_get(*, actor: Account, group_id: int | str, lock: bool = False) -> Group:
    """The actor's shop's group; missing and foreign answer the same 404."""
    rows = Group.objects.filter(shop_id=actor.shop_id)
    if lock:
        rows = rows.select_for_update()
    try:
        return rows.get(pk=int(group_id))
    except (Group.DoesNotExist, ValueError, OverflowError):
        raise NotFound(_("No such group.")) from None


def _clean_name(actor: Account, name: str, group: Group | None = None) -> str:
    name = name.strip()
    if not name:
        raise InvalidInput(_("This field may not be blank."), field="name")
    if len(name) > MAX_NAME:
        raise InvalidInput(
            _("Ensure this field has no more than %(n)d characters.") % {"n": MAX_NAME},
            field="name",
        )
    clash = Group.objects.filter(shop_id=actor.shop_id, name=name)
    if group is not None:
        clash = clash.exclude(pk=group.pk)
    if clash.exists():
        raise InvalidInput(_("A group with this name already exists."), field="name")
    return name


def _save(group: Group, **kwargs: object) -> None:
    try:
        with transaction.atomic():
            group.save(**kwargs)  # type: ignore[arg-type]
    except IntegrityError:  # the same name from a concurrent request (unique per shop)
        raise InvalidInput(_("A group with this name already exists."), field="name") from None


@transaction.atomic
def group_create(
    *,
    actor: Account,
    name: str,
    max_concurrent: int | None = None,
    scope: GroupScope | None = None,
    now: datetime | None = None,
) -> Group:
    """A new group in the actor's shop; the first one switches the shop to regular mode (B2).
    It has no members yet, so no buyer moves; the free slots are dispatched all the same."""
    # The shop's routing lock first, before any row (the lock order of routing).
    lock_shop(actor.shop_id)
    group = Group(
        shop_id=actor.shop_id,
        name=_clean_name(actor, name),
        max_concurrent=max_concurrent,
        **(scope or GroupScope()).columns(),
    )
    _save(group)
    audit_record(
        shop_id=actor.shop_id,
        actor=actor,
        action=AuditAction.GROUP_CREATED,
        target_type=AuditTarget.GROUP,
        target_id=group.pk,
        target_name=group.name,
        changes=created(_audited(group)),
    )
    capacity_changed(shop_id=actor.shop_id, now=now or timezone.now())
    events.monitor_changed(actor.shop_id)  # G2: the board lists the groups
    return group


@transaction.atomic
def group_update(
    *,
    actor: Account,
    group_id: int | str,
    name: str | None = None,
    max_concurrent: int | Unset | None = UNSET,
    scope: GroupScope | None = None,
    now: datetime | None = None,
) -> Group:
    """Change a group; ``None`` (``UNSET`` for the nullable max) leaves a field as it is, a
    ``scope`` given replaces the scope as a whole. A raised default max gives its members'
    free slots to waiting buyers at once (C1, C3); a new scope applies to the next buyers."""
    lock_shop(actor.shop_id)
    group = group_get(actor=actor, group_id=group_id, lock=True)
    before = _audited(group)
    if name is not None:
        group.name = _clean_name(actor, name, group)
    if max_concurrent is not UNSET:
        group.max_concurrent = max_concurrent
    if scope is not None:
        for column, values in scope.columns().items():
            setattr(group, column, values)
    _save(group)
    audit_update(
        shop_id=actor.shop_id,
        actor=actor,
        action=AuditAction.GROUP_UPDATED,
        target_type=AuditTarget.GROUP,
        target_id=group.pk,
        target_name=group.name,
        changes=diff(before, _audited(group)),
    )
    capacity_changed(shop_id=actor.shop_id, now=now or timezone.now())
    events.monitor_changed(actor.shop_id)  # G2: the board lists the groups
    return group


@transaction.atomic
def group_delete(*, actor: Account, group_id: int | str, now: datetime | None = None) -> None:
    """Delete a group (B2: the last one switches the shop back to simple mode). Its agents stay,
    in no group, with the shop's default max (C1); the conversations they hold stay with them.
    Its buyers waiting in the queue are decided again against the groups that remain, keeping
    their place (B4, C3), and the group leaves the queueing groups of C2."""
    now = now or timezone.now()
    lock_shop(actor.shop_id)
    group = group_get(actor=actor, group_id=group_id, lock=True)
    settings = ShopSettings.objects.select_for_update().get(shop_id=actor.shop_id)
    if group.pk in settings.queue_groups:
        settings.queue_groups = [g for g in settings.queue_groups if g != group.pk]
        settings.save(update_fields=["queue_groups"])
    group_pk = group.pk
    audit_record(
        shop_id=actor.shop_id,
        actor=actor,
        action=AuditAction.GROUP_DELETED,
        target_type=AuditTarget.GROUP,
        target_id=group_pk,
        target_name=group.name,
        changes=deleted(_audited(group)),
    )
    group.delete()
    group_removed(shop_id=actor.shop_id, group_id=group_pk, now=now)
    events.monitor_changed(actor.shop_id)  # G2: the board lists the groups
