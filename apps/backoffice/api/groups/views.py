from __future__ import annotations

from typing import Any

from django.db import transaction
from rest_framework import viewsets
from rest_framework.serializers import BaseSerializer

from apps.accounts.permissions import HasShopPerm, IsStaff, Perm
from apps.backoffice.api.groups.serializers import GroupSerializer
from apps.conversations.lifecycle import capacity_changed
from apps.core.selectors import get_by_id
from apps.routing.locking import lock_shop
from apps.routing.models import Group


class GroupViewSet(viewsets.ModelViewSet[Group]):
    """Routing groups (SPEC B2, B3, B4). Creating the first group switches the shop to regular
    mode; deleting the last one back to simple mode."""

    serializer_class = GroupSerializer
    tenant_model = Group
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_permissions(self) -> list[Any]:
        if self.action in ("list", "retrieve"):
            return [IsStaff()]
        return [HasShopPerm.of(Perm.MANAGE_ROUTING)()]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            return Group.objects.none()
        return Group.objects.filter(shop_id=self.request.user.shop_id).prefetch_related("members")  # type: ignore[union-attr]

    def get_object(self) -> Group:
        return get_by_id(self.get_queryset(), self.kwargs["pk"], "No such group.")

    def perform_create(self, serializer: BaseSerializer[Group]) -> None:
        with transaction.atomic():
            # The shop's routing lock first, before any agent row (the lock order of routing;
            # deleting a group rewrites its members' routing state).
            lock_shop(self.request.user.shop_id)  # type: ignore[union-attr]
            serializer.save()
            capacity_changed(shop_id=self.request.user.shop_id)  # type: ignore[union-attr]

    def perform_update(self, serializer: BaseSerializer[Group]) -> None:
        with transaction.atomic():
            # The shop's routing lock first, before any agent row (the lock order of routing;
            # deleting a group rewrites its members' routing state).
            lock_shop(self.request.user.shop_id)  # type: ignore[union-attr]
            serializer.save()
            capacity_changed(shop_id=self.request.user.shop_id)  # type: ignore[union-attr]

    def perform_destroy(self, instance: Group) -> None:
        with transaction.atomic():
            # The shop's routing lock first, before any agent row (the lock order of routing;
            # deleting a group rewrites its members' routing state).
            lock_shop(self.request.user.shop_id)  # type: ignore[union-attr]
            instance.delete()
            capacity_changed(shop_id=self.request.user.shop_id)  # type: ignore[union-attr]
