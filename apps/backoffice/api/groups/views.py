from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.api_permissions import HasShopPerm, IsStaff
from apps.accounts.models import Account
from apps.accounts.permissions import Perm
from apps.backoffice.api.groups.serializers import GroupSerializer
from apps.backoffice.groups import GroupScope, group_create, group_delete, group_update
from apps.core.selectors import get_by_id
from apps.core.types import UNSET
from apps.routing.models import Group


def _staff(request: Request) -> Account:
    return request.user  # type: ignore[return-value]


def _scope(data: dict[str, Any]) -> GroupScope | None:
    scope = data.get("scope")
    return None if scope is None else GroupScope(**scope)


class GroupViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Group]
):
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
        return Group.objects.filter(shop_id=_staff(self.request).shop_id).prefetch_related(
            "members"
        )

    def get_object(self) -> Group:
        return get_by_id(self.get_queryset(), self.kwargs["pk"], "No such group.")

    def _answer(self, group: Group, code: int = status.HTTP_200_OK) -> Response:
        """The group as stored, with its members."""
        return Response(self.get_serializer(self.get_queryset().get(pk=group.pk)).data, status=code)

    @extend_schema(request=GroupSerializer, responses={201: GroupSerializer})
    def create(self, request: Request) -> Response:
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        group = group_create(
            actor=_staff(request),
            name=v["name"],
            max_concurrent=v.get("max_concurrent"),
            scope=_scope(v),
        )
        return self._answer(group, status.HTTP_201_CREATED)

    @extend_schema(request=GroupSerializer, responses=GroupSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        data = self.get_serializer(self.get_object(), data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        group = group_update(
            actor=_staff(request),
            group_id=pk,
            name=v.get("name"),
            max_concurrent=v.get("max_concurrent", UNSET),
            scope=_scope(v),
        )
        return self._answer(group)

    def destroy(self, request: Request, pk: str) -> Response:
        group_delete(actor=_staff(request), group_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)
