"""The admin pages' menu (SPEC G1, A4): each entry with the permission that opens its page, so
that an account sees only what it may open. The pages check the same permissions themselves
(``mixins``); this only decides what is listed."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import Account
from apps.accounts.permissions import Perm, perms_of

Held = Collection[str]  # the permission names an account holds (``perms_of``)
# Not a permission: added to what the main account holds (``held_by``), for its own pages.
MAIN_ACCOUNT = "main_account"


def _any(*perms: Perm) -> Callable[[Held], bool]:
    return lambda held: any(p.value in held for p in perms)


@dataclass(frozen=True)
class Entry:
    url_name: str  # in the ``web`` namespace
    label: Promise
    allowed: Callable[[Held], bool]
    prefix: str  # the url names of its pages start with this (the entry is then current)


@dataclass(frozen=True)
class Section:
    label: Promise
    entries: tuple[Entry, ...]


MENU = (
    Section(
        _("Team"),
        (
            Entry("admin-accounts", _("Accounts"), _any(Perm.MANAGE_ACCOUNTS), "admin-account"),
            Entry("admin-groups", _("Groups"), _any(Perm.MANAGE_ROUTING), "admin-group"),
        ),
    ),
    Section(
        _("Routing"),
        (
            Entry(
                "admin-routing", _("Routing and queue"), _any(Perm.MANAGE_ROUTING), "admin-routing"
            ),
            Entry("admin-hours", _("Business hours"), _any(Perm.MANAGE_SETTINGS), "admin-hours"),
            Entry(
                "admin-private-contacts",
                _("Private contacts"),
                _any(Perm.MANAGE_ROUTING),  # they route (B8), as the API rules
                "admin-private-contact",
            ),
            Entry("admin-intents", _("Intents"), _any(Perm.MANAGE_ROUTING), "admin-intent"),
        ),
    ),
    Section(
        _("Replies"),
        (
            Entry(
                "admin-replies", _("Automatic replies"), _any(Perm.MANAGE_SETTINGS), "admin-replies"
            ),
            Entry("admin-timeouts", _("Timeouts"), _any(Perm.MANAGE_SETTINGS), "admin-timeouts"),
            Entry(
                "admin-quick-replies",
                _("Quick replies"),
                _any(Perm.CHAT, Perm.MANAGE_SETTINGS),  # an agent's own; the shop's to managers
                "admin-quick-repl",
            ),
        ),
    ),
    Section(
        _("Shop"),
        (
            Entry("admin-shop", _("Shop profile"), _any(Perm.MANAGE_SETTINGS), "admin-shop"),
            Entry("admin-widget", _("Widget"), _any(Perm.MANAGE_SETTINGS), "admin-widget"),
            # SPEC H2, H4 (issue 12): API keys and webhooks, as the API rules.
            Entry(
                "admin-integrations",
                _("Integrations"),
                _any(Perm.MANAGE_SETTINGS),
                "admin-integration",
            ),
            # SPEC I6: sensitive words, blocked buyers, retention; as the API rules.
            Entry("admin-safety", _("Safety"), _any(Perm.MANAGE_SETTINGS), "admin-safety"),
            # SPEC I5: the main account's alone.
            Entry("admin-audit", _("Audit log"), lambda held: MAIN_ACCOUNT in held, "admin-audit"),
        ),
    ),
    Section(  # SPEC G2, G3 (issue 11)
        _("Data"),
        (
            Entry("admin-board", _("Live board"), _any(Perm.VIEW_MONITOR), "admin-board"),
            Entry("admin-metrics", _("Metrics"), _any(Perm.VIEW_MONITOR), "admin-metrics"),
            Entry("admin-targets", _("Targets"), _any(Perm.MANAGE_SETTINGS), "admin-targets"),
        ),
    ),
    Section(  # SPEC G4 (issue 11): gated like the metrics (A4, view_monitor)
        _("Planning"),
        (
            Entry(
                "admin-forecast", _("Staffing forecast"), _any(Perm.VIEW_MONITOR), "admin-forecast"
            ),
        ),
    ),
)


def held_by(account: Account) -> set[str]:
    """What the menu checks for ``account``: its permissions, and ``MAIN_ACCOUNT`` for the main
    account (SPEC I5: pages only the owner opens)."""
    held = set(perms_of(account))
    if account.is_main:
        held.add(MAIN_ACCOUNT)
    return held


@dataclass(frozen=True)
class Link:
    label: Promise
    url: str
    current: bool


def admin_menu(held: Held, current: str | None) -> list[tuple[Promise, list[Link]]]:
    """The sections and links ``held`` opens, ``current`` (the request's url name) marked."""
    menu = []
    for section in MENU:
        links = []
        for entry in section.entries:
            if not entry.allowed(held):
                continue
            try:
                url = reverse(f"web:{entry.url_name}")
            except NoReverseMatch:  # a page of a later build
                continue
            links.append(Link(entry.label, url, bool(current and current.startswith(entry.prefix))))
        if links:
            menu.append((section.label, links))
    return menu


def first_admin_page(held: Held) -> str | None:
    """Where "Admin" leads: the first page of the menu the account may open."""
    for _label, links in admin_menu(held, None):
        return links[0].url
    return None
