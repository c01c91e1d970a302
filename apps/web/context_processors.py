from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from apps.web.menu import admin_menu, first_admin_page, held_by


def shop_context(request: HttpRequest) -> dict[str, Any]:
    """The signed-in account's shop and permissions, for the shared layout's navigation: the
    admin menu lists only the pages the account may open (SPEC A4, G1)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    held = held_by(user)  # its permissions, and the main account's own pages (SPEC I5)
    match = getattr(request, "resolver_match", None)
    current = match.url_name if match is not None else None
    on_admin = bool(current and current.startswith("admin"))
    return {
        "shop": user.shop,
        "perms_held": held,
        "admin_home": first_admin_page(held),
        "admin_menu": admin_menu(held, current) if on_admin else [],
        "on_admin": on_admin,
    }
