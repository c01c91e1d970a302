from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api_permissions import IsStaff
from apps.accounts.models import Account
from apps.accounts.permissions import Perm, has_perm
from apps.backoffice.api.shops.serializers import (
    SettingsSerializer,
    ShopProfileSerializer,
    WidgetSecretSerializer,
)
from apps.backoffice.services import shop_profile_update
from apps.backoffice.shop_settings import ROUTING_FIELDS, settings_update, widget_secret_rotate
from apps.core.errors import Forbidden
from apps.shops.models import ShopSettings


def _staff(request: Request) -> Account:
    return request.user  # type: ignore[return-value]


class SettingsView(APIView):
    """The shop's settings: all staff read them; changing a routing field needs
    ``manage_routing``, any other field ``manage_settings`` (the main account has both)."""

    permission_classes = [IsStaff]

    def _settings(self, request: Request) -> ShopSettings:
        return ShopSettings.objects.select_related("shop").get(shop_id=_staff(request).shop_id)

    @extend_schema(responses=SettingsSerializer)
    def get(self, request: Request) -> Response:
        return Response(
            SettingsSerializer(self._settings(request), context={"request": request}).data
        )

    @extend_schema(request=SettingsSerializer, responses=SettingsSerializer)
    def patch(self, request: Request) -> Response:
        user = _staff(request)
        fields = set(request.data) if isinstance(request.data, dict) else set()
        needed = {
            Perm.MANAGE_ROUTING if f in ROUTING_FIELDS else Perm.MANAGE_SETTINGS for f in fields
        }
        missing = sorted(p.value for p in needed if not has_perm(user, p))
        if missing:
            raise Forbidden(f"You need the {', '.join(missing)} permission.")
        data = SettingsSerializer(
            self._settings(request), data=request.data, partial=True, context={"request": request}
        )
        data.is_valid(raise_exception=True)
        settings = settings_update(actor=user, changes=dict(data.validated_data))
        return Response(SettingsSerializer(settings, context={"request": request}).data)


class WidgetSecretView(APIView):
    """Rotate the widget secret (H3); the main account alone."""

    permission_classes = [IsStaff]

    @extend_schema(request=None, responses=WidgetSecretSerializer)
    def post(self, request: Request) -> Response:
        if not _staff(request).is_main:
            raise Forbidden("Only the main account can rotate the widget secret.")
        return Response({"widget_secret": widget_secret_rotate(actor=_staff(request))})


class ShopProfileView(APIView):
    """The caller's shop: all staff read it; changing its name or time zone needs
    ``manage_settings`` (the main account has it)."""

    permission_classes = [IsStaff]

    @extend_schema(responses=ShopProfileSerializer)
    def get(self, request: Request) -> Response:
        return Response(ShopProfileSerializer(_staff(request).shop).data)

    @extend_schema(request=ShopProfileSerializer, responses=ShopProfileSerializer)
    def patch(self, request: Request) -> Response:
        data = ShopProfileSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        shop = shop_profile_update(actor=_staff(request), **data.validated_data)
        return Response(ShopProfileSerializer(shop).data)
