"""Writes for shops and accounts (SPEC A1-A4). Permission checks happen at the entry points."""

from __future__ import annotations

import re
import secrets
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from apps.accounts.models import Account, AccountKind, ShopAccountPermission, login_name
from apps.accounts.permissions import (
    ALL_PERMS,
    DEFAULT_SUB_PERMS,
    Perm,
    has_perm,
    perms_of,
    set_perms,
)
from apps.audit.models import AuditAction, AuditTarget
from apps.audit.services import (
    Change,
    audit_record,
    audit_update,
    created,
    deleted,
    diff,
    secret,
)
from apps.conversations import events
from apps.conversations.lifecycle import (
    agent_left_routing,
    agent_remove,
    agent_set_status,
    agent_state_create,
    capacity_changed,
)
from apps.core.errors import Forbidden, InvalidFields, InvalidInput
from apps.core.realtime import account_group, send_to_group_on_commit
from apps.core.types import UNSET, Unset
from apps.routing.locking import lock_shop
from apps.routing.models import AgentState, AgentStatus, Group
from apps.shops.models import Shop, ShopSettings

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,28}[a-z0-9])$")
RESERVED_SLUGS = frozenset(
    {
        "admin",
        "api",
        "www",
        "static",
        "media",
        "ws",
        "widget",
        "login",
        "logout",
        "signup",
        "healthz",
        "readyz",
        "root",
        "system",
        "support",
        "help",
    }
)
FORBIDDEN_NAME_CHARS = re.compile(r"[:\uff1a\s/\\@]")


@dataclass(frozen=True)
class Signup:
    shop: Shop
    account: Account
    token: str


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _check_password(password: str, account: Account | None = None) -> None:
    try:
        validate_password(password, user=account)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), field="password") from None


def token_for(account: Account) -> str:
    token, _created = Token.objects.get_or_create(user=account)
    return token.key


@transaction.atomic
def shop_signup(*, slug: str, name: str, password: str, time_zone: str = "Asia/Shanghai") -> Signup:
    """SPEC A1: create the shop, its settings and its main account, which takes part in routing."""
    slug = slug.strip().lower()
    if not SLUG_RE.match(slug):
        raise InvalidInput(
            _("3-30 lowercase letters, digits or hyphens, not starting or ending with a hyphen."),
            field="slug",
        )
    if slug in RESERVED_SLUGS:
        raise InvalidInput(_("This name is reserved."), field="slug")
    if time_zone not in _time_zones():
        raise InvalidInput(_("Unknown time zone."), field="time_zone")
    if not name.strip():
        raise InvalidInput(_("This field may not be blank."), field="name")
    _check_password(password)
    if Shop.objects.filter(slug=slug).exists():
        raise InvalidInput(_("A shop with this name already exists."), field="slug")
    try:
        with transaction.atomic():
            shop = Shop.objects.create(slug=slug, name=name.strip(), time_zone=time_zone)
    except IntegrityError:
        raise InvalidInput(_("A shop with this name already exists."), field="slug") from None
    ShopSettings.objects.create(shop=shop, widget_secret=secrets.token_hex(32))
    account = Account.objects.create_user(
        username=login_name(slug), password=password, shop=shop, kind=AccountKind.MAIN
    )
    agent_state_create(account=account, routing_enabled=True)
    return Signup(shop=shop, account=account, token=token_for(account))


def _check_grantable(actor: Account, perms: set[Perm]) -> None:
    """A sub-account manager can hand out only the permissions it holds itself."""
    missing = perms - {Perm(p) for p in perms_of(actor)}
    if missing:
        raise Forbidden(
            _("You cannot grant permissions you do not hold: %(perms)s")
            % {"perms": ", ".join(sorted(missing))}
        )


def can_act_on(actor: Account, account: Account) -> bool:
    """Amended A4: the main account acts on every account of its shop; a sub-account manager
    only on accounts whose permissions are a subset of its own (itself included)."""
    return actor.is_main or set(perms_of(account)) <= set(perms_of(actor))


def _check_acts_on(actor: Account, account: Account) -> None:
    """Before anything is changed: a manager who could change, disable, delete or take over a
    more privileged colleague would reach permissions it was never granted (amended A4)."""
    if not can_act_on(actor, account):
        raise Forbidden(
            _("This account holds permissions you do not hold, so you cannot change it.")
        )


def _granted(account: Account) -> list[str]:
    """The permissions stored for the account, in the order of ``Perm`` (``perms_of`` reads
    none for a disabled account: django-guardian answers nothing for inactive users)."""
    if account.is_main:
        return [p.value for p in ALL_PERMS]
    held = set(
        ShopAccountPermission.objects.filter(
            user=account, content_object_id=account.shop_id
        ).values_list("permission__codename", flat=True)
    )
    return [p.value for p in ALL_PERMS if p.value in held]


def _audited(account: Account, state: AgentState | None = None) -> dict[str, object]:
    """SPEC I5: what the audit log records of an account (permissions included)."""
    values: dict[str, object] = {
        "display_name": account.display_name,
        "permissions": _granted(account),
        "is_active": account.is_active,
    }
    if state is not None:
        values.update(
            routing_enabled=state.routing_enabled,
            group=state.group_id,
            weight=state.weight,
            max_concurrent=state.max_concurrent,
        )
    return values


def _audit_account(
    actor: Account, account: Account, action: AuditAction, changes: Mapping[str, Change]
) -> None:
    audit_record(
        shop_id=account.shop_id,
        actor=actor,
        action=action,
        target_type=AuditTarget.ACCOUNT,
        target_id=account.pk,
        target_name=account.username,
        changes=changes,
    )


def _check_group(shop: Shop, group: Group | None) -> None:
    if group is not None and group.shop_id != shop.pk:
        raise InvalidInput(_("No such group."), field="group")


@transaction.atomic
def account_create(
    *,
    actor: Account,
    name: str,
    password: str,
    display_name: str = "",
    permissions: set[Perm] | None = None,
    routing_enabled: bool = True,
    group: Group | None = None,
    weight: int = 10,
    max_concurrent: int | None = None,
) -> Account:
    """SPEC A2: a sub-account ``shop:name``, within the shop's quota."""
    # The shop row lock serializes creations, so the quota holds under concurrent requests.
    shop = Shop.objects.select_for_update().get(pk=actor.shop_id)
    name = name.strip()
    if not name:
        raise InvalidInput(_("This field may not be blank."), field="name")
    if FORBIDDEN_NAME_CHARS.search(name):
        raise InvalidInput(_("A name may not contain colons, spaces, slashes or @."), field="name")
    perms = set(DEFAULT_SUB_PERMS) if permissions is None else set(permissions)
    _check_grantable(actor, perms)
    _check_group(shop, group)
    used = Account.objects.filter(shop=shop, kind=AccountKind.SUB).count()
    if used >= shop.sub_account_quota:
        raise InvalidInput(
            # Not about any one field of the request: a non-field error (API.md, General).
            _("The shop has used all %(quota)d of its sub-accounts.")
            % {"quota": shop.sub_account_quota}
        )
    if Account.objects.filter(shop=shop, name=name).exists():
        raise InvalidInput(_("A sub-account with this name already exists."), field="name")
    account = Account(
        shop=shop,
        kind=AccountKind.SUB,
        name=name,
        username=login_name(shop.slug, name),
        display_name=display_name.strip(),
    )
    _check_password(password, account)
    account.set_password(password)
    account.save()
    state = AgentState.objects.create(
        shop=shop,
        account=account,
        routing_enabled=routing_enabled,
        group=group,
        weight=weight,
        max_concurrent=max_concurrent,
    )
    set_perms(account, perms)
    _audit_account(actor, account, AuditAction.ACCOUNT_CREATED, created(_audited(account, state)))
    events.monitor_changed(account.shop_id)  # G2: the board lists accounts
    return account


@transaction.atomic
def account_update(
    *,
    actor: Account,
    account: Account,
    display_name: str | None = None,
    permissions: set[Perm] | None = None,
    routing_enabled: bool | None = None,
    group: Group | Unset | None = UNSET,
    weight: int | None = None,
    max_concurrent: int | Unset | None = UNSET,
    is_active: bool | None = None,
) -> Account:
    """Change an account; ``UNSET`` (or ``None`` for non-nullable fields) leaves it as it is."""
    # SPEC N, C1: the shop's routing lock before the agent's row, in the order every routing
    # transition takes them. Row first, then the lock (in capacity_changed) deadlocked against
    # a routing decision that holds the lock and moves this agent's load.
    _check_acts_on(actor, account)
    lock_shop(account.shop_id)
    state = AgentState.objects.select_for_update().get(account=account)
    before = _audited(account, state)
    if display_name is not None:
        account.display_name = display_name.strip()
        account.save(update_fields=["display_name"])
    if permissions is not None:
        if account.is_main:
            if set(permissions) != set(ALL_PERMS):
                raise InvalidInput(
                    _("The main account keeps every permission."), field="permissions"
                )
        else:
            if account.pk == actor.pk:
                raise Forbidden(_("You cannot change your own permissions."))
            _check_grantable(actor, set(permissions))
            had_chat = Perm.CHAT in perms_of(account)
            set_perms(account, set(permissions))
            if had_chat and Perm.CHAT not in set(permissions):
                agent_left_routing(account=account)  # amended A4: like leaving routing (B9a)
            elif not had_chat and Perm.CHAT in set(permissions):
                capacity_changed(shop_id=account.shop_id)  # a new candidate takes waiting buyers
    changed: list[str] = []
    if routing_enabled is not None:
        state.routing_enabled = routing_enabled
        changed.append("routing_enabled")
    if group is not UNSET:
        _check_group(account.shop, group)
        state.group = group
        changed.append("group")
    if weight is not None:
        state.weight = weight
        changed.append("weight")
    if max_concurrent is not UNSET:
        state.max_concurrent = max_concurrent
        changed.append("max_concurrent")
    if changed:
        state.save(update_fields=changed)
        capacity_changed(shop_id=account.shop_id)  # a raised max or a new member frees slots (C3)
    if is_active is not None and is_active != account.is_active:
        _set_active(actor=actor, account=account, active=is_active)
    changes = diff(before, _audited(account, state))
    if changes:  # SPEC I5: one row for the whole change, permissions included
        _audit_account(actor, account, AuditAction.ACCOUNT_UPDATED, changes)
    events.monitor_changed(account.shop_id)  # G2: the board lists accounts
    return account


@transaction.atomic
def account_set_active(*, actor: Account, account: Account, active: bool) -> Account:
    """SPEC A3: disabling ends the account's sessions, tokens and sockets at once."""
    was = account.is_active
    _set_active(actor=actor, account=account, active=active)
    if was != active:
        _audit_account(
            actor,
            account,
            AuditAction.ACCOUNT_UPDATED,
            {"is_active": {"before": was, "after": active}},
        )
    return account


def _set_active(*, actor: Account, account: Account, active: bool) -> Account:
    if account.is_main:
        raise InvalidInput(_("The main account cannot be disabled."), field="is_active")
    if account.pk == actor.pk:
        raise Forbidden(_("You cannot disable your own account."))
    _check_acts_on(actor, account)
    account.is_active = active
    account.save(update_fields=["is_active"])
    if not active:
        _end_access(account)
        # Goes offline like an explicit logout; the routing core re-routes its conversations (B9).
        agent_set_status(account=account, status=AgentStatus.OFFLINE, reason="disabled")
    events.monitor_changed(account.shop_id)  # G2: the board lists accounts
    return account


def _end_access(account: Account) -> None:
    """Tokens are deleted; sessions fail because the account is inactive or its password changed;
    open sockets are told to close."""
    Token.objects.filter(user=account).delete()
    send_to_group_on_commit(account_group(account.pk), {"type": "account.revoked"})


@transaction.atomic
def account_reset_password(*, actor: Account, account: Account, password: str) -> None:
    """SPEC A3: the main account (or a manager) sets a new password without the old one.

    The account's other sessions, tokens and sockets end: whoever knew the old password is out.
    """
    if account.is_main and not actor.is_main:
        raise Forbidden(_("Only the main account can change its own password."))
    _check_acts_on(actor, account)  # else it could sign in as a more powerful colleague
    _check_password(password, account)
    account.set_password(password)
    account.save(update_fields=["password"])
    _end_access(account)
    _audit_account(actor, account, AuditAction.ACCOUNT_PASSWORD_RESET, secret("password"))


@transaction.atomic
def account_delete(*, actor: Account, account: Account) -> None:
    if account.is_main:
        raise InvalidInput(_("The main account cannot be deleted."))
    if account.pk == actor.pk:
        raise Forbidden(_("You cannot delete your own account."))
    _check_acts_on(actor, account)
    _audit_account(actor, account, AuditAction.ACCOUNT_DELETED, deleted(_audited(account)))
    _end_access(account)
    # A3, B9a: its buyers are re-routed first, never left active with no agent.
    agent_remove(account=account)
    shop_id = account.shop_id
    account.delete()
    capacity_changed(shop_id=shop_id)  # C3: queued buyers it was the last candidate of
    events.monitor_changed(shop_id)  # G2: the board lists accounts


@transaction.atomic
def me_update(
    *, account: Account, display_name: str | None = None, max_concurrent: int | None = None
) -> Account:
    """An agent's own profile; its own max concurrent only when the shop allows it (SPEC C1)."""
    before = {
        "display_name": account.display_name,
        "max_concurrent": AgentState.objects.filter(account=account)
        .values_list("max_concurrent", flat=True)
        .first(),
    }
    if max_concurrent is not None:
        if not account.shop.settings.agents_set_own_max:
            raise Forbidden(_("This shop does not let agents set their own maximum."))
        lock_shop(account.shop_id)  # SPEC N, C1: before the agent's row (see account_update)
        AgentState.objects.filter(account=account).update(max_concurrent=max_concurrent)
        capacity_changed(shop_id=account.shop_id)  # C1, C3: a raised max takes waiting buyers
    if display_name is not None:
        account.display_name = display_name.strip()
        account.save(update_fields=["display_name"])
    after = {
        "display_name": account.display_name,
        "max_concurrent": before["max_concurrent"] if max_concurrent is None else max_concurrent,
    }
    changes = diff(before, after)
    if changes:  # SPEC I5: an account's own changes are recorded too
        _audit_account(account, account, AuditAction.ACCOUNT_UPDATED, changes)
    events.monitor_changed(account.shop_id)  # G2: the board lists accounts
    return account


@transaction.atomic
def shop_profile_update(
    *, actor: Account, name: str | None = None, time_zone: str | None = None
) -> Shop:
    """The shop's name and time zone (G1; the main account or ``manage_settings``). The time zone
    sets the shop's days (business hours, D1's once a day, metrics); nothing is re-routed."""
    if not has_perm(actor, Perm.MANAGE_SETTINGS):
        raise Forbidden(_("You need the manage settings permission."))
    errors: dict[str, list[str]] = {}
    if name is not None:
        name = name.strip()
        if not name:
            errors["name"] = [_("This field may not be blank.")]
        elif len(name) > 100:
            errors["name"] = [_("A shop name has at most %(n)d characters.") % {"n": 100}]
    if time_zone is not None and time_zone not in _time_zones():
        errors["time_zone"] = [_("Unknown time zone.")]
    if errors:
        raise InvalidFields(errors)
    shop = Shop.objects.select_for_update().get(pk=actor.shop_id)
    before = {"name": shop.name, "time_zone": shop.time_zone}
    changed = []
    if name is not None and name != shop.name:
        shop.name = name
        changed.append("name")
    if time_zone is not None and time_zone != shop.time_zone:
        shop.time_zone = time_zone
        changed.append("time_zone")
    if changed:
        shop.save(update_fields=changed)
    audit_update(
        shop_id=shop.pk,
        actor=actor,
        action=AuditAction.SHOP_UPDATED,
        target_type=AuditTarget.SHOP,
        target_id=shop.pk,
        target_name=shop.name,
        changes=diff(before, {"name": shop.name, "time_zone": shop.time_zone}),
    )
    events.monitor_changed(shop.pk)  # G2: the board's day follows the time zone
    return shop


@cache
def time_zones() -> tuple[str, ...]:
    """Every time zone a shop may take, sorted."""
    return tuple(sorted(_time_zones()))
