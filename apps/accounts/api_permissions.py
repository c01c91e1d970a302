"""The REST API's permission classes, built on the named permissions of
``apps.accounts.permissions`` (SPEC A4)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework.permissions import BasePermission

from apps.accounts.permissions import Perm, has_perm

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class HasShopPerm(BasePermission):
    """DRF permission: ``permission_classes = [HasShopPerm.of(Perm.MANAGE_ACCOUNTS)]``."""

    perm: Perm

    @classmethod
    def of(cls, perm: Perm) -> type[HasShopPerm]:
        return type(f"Has_{perm.value}", (cls,), {"perm": perm})

    def has_permission(self, request: Request, view: APIView) -> Any:
        user = request.user
        return bool(user and user.is_authenticated and has_perm(user, self.perm))  # type: ignore[arg-type]


class IsStaff(BasePermission):
    """An authenticated, active account of a shop."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active)
