from __future__ import annotations

import secrets

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import IsStaff, Perm, has_perm
from apps.backoffice.api.shops.serializers import SettingsSerializer, WidgetSecretSerializer
from apps.conversations.lifecycle import capacity_changed
from apps.core.errors import Forbidden
from apps.shops.models import ShopSettings

# SPEC A4: groups, routing and queue settings need manage_routing; the rest manage_settings.
ROUTING_FIELDS = frozenset(
    {
        "assignment_rule",
        "recent_contact_first",
        "buyer_chooses_agent",
        "queue_mode",
        "queue_groups",
        "queue_order",
        "default_max_concurrent",
        "agents_set_own_max",
        "avg_handling_seconds",
        "reentry_window_seconds",
        "offline_routing",
        "offline_grace_seconds",
        "offline_handling",
        "pool_auto_assign",
    }
)


class SettingsView(APIView):
    """The shop's settings: all staff read them; changing a routing field needs
    ``manage_routing``, any other field ``manage_settings`` (the main account has both)."""

    permission_classes = [IsStaff]

    def _settings(self, request: Request) -> ShopSettings:
        return ShopSettings.objects.select_related("shop").get(shop_id=request.user.shop_id)  # type: ignore[union-attr]

    @extend_schema(responses=SettingsSerializer)
    def get(self, request: Request) -> Response:
        return Response(
            SettingsSerializer(self._settings(request), context={"request": request}).data
        )

    @extend_schema(request=SettingsSerializer, responses=SettingsSerializer)
    def patch(self, request: Request) -> Response:
        user = request.user
        fields = set(request.data) if isinstance(request.data, dict) else set()
        needed = {
            Perm.MANAGE_ROUTING if f in ROUTING_FIELDS else Perm.MANAGE_SETTINGS for f in fields
        }
        missing = sorted(p.value for p in needed if not has_perm(user, p))  # type: ignore[arg-type]
        if missing:
            raise Forbidden(f"You need the {', '.join(missing)} permission.")
        settings = self._settings(request)
        data = SettingsSerializer(
            settings, data=request.data, partial=True, context={"request": request}
        )
        data.is_valid(raise_exception=True)
        data.save()
        # A raised max, a queue switched off: free slots may take waiting buyers (C3).
        capacity_changed(shop_id=user.shop_id)  # type: ignore[union-attr]
        return Response(SettingsSerializer(settings, context={"request": request}).data)


class WidgetSecretView(APIView):
    """Rotate the widget secret (H3); the main account alone."""

    permission_classes = [IsStaff]

    @extend_schema(request=None, responses=WidgetSecretSerializer)
    def post(self, request: Request) -> Response:
        if not request.user.is_main:  # type: ignore[union-attr]
            raise Forbidden("Only the main account can rotate the widget secret.")
        settings = ShopSettings.objects.get(shop_id=request.user.shop_id)  # type: ignore[union-attr]
        settings.widget_secret = secrets.token_hex(32)
        settings.save(update_fields=["widget_secret"])
        return Response({"widget_secret": settings.widget_secret})
