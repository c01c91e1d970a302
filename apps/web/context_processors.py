from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from apps.accounts.permissions import perms_of


def shop_context(request: HttpRequest) -> dict[str, Any]:
    """The signed-in account's shop and permissions, for the shared layout's navigation."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"shop": user.shop, "perms_held": set(perms_of(user))}
