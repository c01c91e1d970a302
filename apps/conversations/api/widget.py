"""The buyer widget's REST side (API.md, buyer widget; SPEC F, H3)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.conversations import buyers
from apps.conversations import lifecycle as services
from apps.conversations.api.serializers import (
    AfterSeqSerializer,
    ConversationSerializer,
    MessageCreateSerializer,
    MessageSerializer,
    RatingResultSerializer,
    RatingSerializer,
    WidgetAgentPageSerializer,
    WidgetAppearanceSerializer,
    WidgetConversationSerializer,
    WidgetMessagePageSerializer,
    WidgetSessionResultSerializer,
    WidgetSessionSerializer,
)
from apps.conversations.api.views import ImageUploadSerializer, conversation_data, image_upload
from apps.conversations.buyers import BuyerPrincipal, principal_context, principal_for_token
from apps.conversations.images import image_message_send
from apps.conversations.models import OPEN_STATES, Conversation, Message, Sender
from apps.conversations.payloads import message_payload
from apps.conversations.recall import buyer_message_recall
from apps.core.errors import NotFound
from apps.core.throttling import ScopedRateThrottle
from apps.safety.throttle import buyer_message_throttle
from apps.shops.models import ShopSettings

# SPEC I6: the per-buyer message rate (THROTTLE_BUYER_MESSAGES); nothing stored.
THROTTLED = OpenApiResponse(
    description="Too many messages from this buyer: `{detail, retry_after}` with a "
    "`Retry-After` header (seconds); nothing was stored."
)


class BuyerTokenAuthentication(BaseAuthentication):
    """``Authorization: Buyer <token>``; used on widget views only."""

    keyword = "Buyer"

    def authenticate(self, request: Request) -> tuple[BuyerPrincipal, str] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise AuthenticationFailed(_("Invalid buyer token header."))
        token = parts[1].decode("latin-1")
        principal = principal_for_token(token)
        if principal is None:
            raise AuthenticationFailed(_("Invalid or expired buyer token."))
        if principal.blocked:  # SPEC I6: every widget request of a blocked buyer
            raise PermissionDenied(buyers.blocked_error().message)
        return principal, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class BuyerTokenScheme(OpenApiAuthenticationExtension):
    """The buyer token in the OpenAPI schema."""

    target_class = BuyerTokenAuthentication
    name = "BuyerToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Buyer <token>`, the token from `POST /api/v1/widget/session/`.",
        }


class IsBuyer(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, BuyerPrincipal)


def _principal(request: Request) -> BuyerPrincipal:
    return request.user  # type: ignore[return-value]


class _WidgetView(APIView):
    authentication_classes = [BuyerTokenAuthentication]
    permission_classes = [IsBuyer]


class WidgetSessionView(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "widget"

    @extend_schema(
        request=WidgetSessionSerializer,
        responses={
            200: WidgetSessionResultSerializer,
            403: OpenApiResponse(
                description="The shop does not offer customer service now or on this entrance, "
                "or it blocked this buyer (SPEC I6)."
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = WidgetSessionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        session = buyers.widget_session_start(
            shop=v["shop"],
            entrance=v["entrance"],
            name=v["name"],
            buyer_id=v.get("buyer_id") or "",
            signature=v.get("signature") or "",
            product=v.get("product") or "",
            order=v.get("order") or "",
        )
        buyer, settings = session.buyer, session.settings
        return Response(
            {
                "token": session.token,
                "buyer": {"external_id": buyer.external_id, "name": buyer.name},
                "shop": {"slug": settings.shop.slug, "name": settings.shop.name},
            }
        )


class WidgetAppearanceView(APIView):
    """The launcher's look for ``static/js/embed.js`` on the shop's own pages: public (nothing
    in it is secret), readable from any origin, cached for a minute."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "widget"
    tenant_public = True  # what every buyer on the shop's pages sees: no tenant check applies

    @extend_schema(responses=WidgetAppearanceSerializer)
    def get(self, request: Request, slug: str) -> Response:
        settings = ShopSettings.objects.select_related("shop").filter(shop__slug=slug).first()
        if settings is None:
            raise NotFound(_("No such shop."))
        response = Response(settings.widget_appearance())
        response["Access-Control-Allow-Origin"] = "*"
        response["Cache-Control"] = "public, max-age=60"
        return response


class WidgetAgentsView(_WidgetView):
    """B7: the online and paused agents, when the shop lets buyers choose."""

    @extend_schema(responses=WidgetAgentPageSerializer)
    def get(self, request: Request) -> Response:
        shop_id = _principal(request).shop_id
        if not ShopSettings.objects.filter(shop_id=shop_id, buyer_chooses_agent=True).exists():
            return Response({"count": 0, "next": None, "previous": None, "results": []})
        rows = services.agents_for_buyer_choice(shop_id=shop_id)
        results = [{"id": s.account_id, "name": s.account.label, "status": s.status} for s in rows]
        return Response({"count": len(results), "next": None, "previous": None, "results": results})


def _current(principal: BuyerPrincipal) -> Conversation | None:
    """The open conversation, else the latest one."""
    rows = Conversation.objects.filter(
        shop_id=principal.shop_id, buyer=principal.buyer
    ).select_related("buyer", "product", "order", "shop")
    return rows.filter(state__in=OPEN_STATES).first() or rows.order_by("-created_at", "-id").first()


NO_CONVERSATION = OpenApiResponse(description="The buyer has no conversation yet.")
NO_OPEN_CONVERSATION = OpenApiResponse(description="The buyer has no open conversation.")


class WidgetConversationView(_WidgetView):
    @extend_schema(responses={200: ConversationSerializer, 404: NO_CONVERSATION})
    def get(self, request: Request) -> Response:
        conversation = _current(_principal(request))
        if conversation is None:
            raise NotFound(_("No conversation yet."))
        return Response(conversation_data(conversation))

    @extend_schema(request=WidgetConversationSerializer, responses=ConversationSerializer)
    def post(self, request: Request) -> Response:
        data = WidgetConversationSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        p = _principal(request)
        chosen = data.validated_data.get("agent")
        human = data.validated_data["human"]
        intent = data.validated_data["intent"].strip()
        product, order = principal_context(p, chosen_agent_id=chosen)
        conversation = services.conversation_open(
            buyer=p.buyer,
            entrance=p.entrance,
            product=product,
            order=order,
            intent=intent,
            human=human,
            chosen_agent_id=chosen,
            open_id=p.open_conversation_id,  # read with the token, in this request
        )
        if human:
            conversation = services.request_human(
                conversation=conversation, chosen_agent_id=chosen, intent=intent
            )
        return Response(conversation_data(conversation))


class WidgetMessagesView(_WidgetView):
    @extend_schema(
        parameters=[AfterSeqSerializer],
        responses={200: WidgetMessagePageSerializer, 404: NO_CONVERSATION},
    )
    def get(self, request: Request) -> Response:
        conversation = _current(_principal(request))
        if conversation is None:
            raise NotFound(_("No conversation yet."))
        query = AfterSeqSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = (
            Message.objects.filter(
                conversation=conversation, seq__gt=query.validated_data["after_seq"]
            )
            .select_related("attachment")  # I1: an image message's picture, same query
            .order_by("seq")[:500]
        )
        results = [message_payload(m) for m in rows]
        return Response({"count": len(results), "next": None, "previous": None, "results": results})

    @extend_schema(
        request=MessageCreateSerializer,
        responses={201: MessageSerializer, 200: MessageSerializer, 429: THROTTLED},
    )
    def post(self, request: Request) -> Response:
        data = MessageCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        p = _principal(request)
        buyer_message_throttle(shop_id=p.shop_id, buyer_id=p.buyer.pk)  # SPEC I6: 429
        # Writing again after the end opens a new conversation (the socket does the same).
        message, created = services.buyer_message_send(
            buyer=p.buyer, entrance=p.entrance, **data.validated_data
        )
        return Response(message_payload(message), status=201 if created else 200)


class WidgetImagesView(_WidgetView):
    """SPEC I1: the buyer sends an image (JPEG, PNG, WebP) into its open conversation."""

    @extend_schema(
        request={"multipart/form-data": ImageUploadSerializer},
        responses={
            201: MessageSerializer,
            200: MessageSerializer,
            404: NO_OPEN_CONVERSATION,
            429: THROTTLED,
        },
    )
    def post(self, request: Request) -> Response:
        p = _principal(request)
        conversation = services.buyer_open_conversation(buyer=p.buyer)
        if conversation is None:
            raise NotFound(_("No open conversation."))
        buyer_message_throttle(shop_id=p.shop_id, buyer_id=p.buyer.pk)  # SPEC I6: 429
        upload, client_id = image_upload(request)
        message, created = image_message_send(
            conversation=conversation,
            sender=Sender.BUYER,
            upload=upload,
            size=upload.size,
            client_id=client_id,
        )
        return Response(message_payload(message), status=201 if created else 200)


class WidgetMessageRecallView(_WidgetView):
    """SPEC I1: the buyer recalls its own message within 2 minutes (409 after, 403 for the
    other side's message, 404 for a message not in its conversations)."""

    # The isolation walk (tests/support/isolation.py) probes with a staff account, which every
    # widget view refuses (401) before any lookup; a buyer of another shop or another buyer
    # gets 404 here, tested in tests/api/test_recall.py.
    tenant_public = True

    @extend_schema(request=None, responses=MessageSerializer)
    def post(self, request: Request, message_id: int) -> Response:
        message = buyer_message_recall(buyer=_principal(request).buyer, message_id=message_id)
        return Response(message_payload(message))


class WidgetLeaveView(_WidgetView):
    @extend_schema(
        request=None,
        responses={
            200: ConversationSerializer,
            404: NO_OPEN_CONVERSATION,
        },
    )
    def post(self, request: Request) -> Response:
        p = _principal(request)
        conversation = Conversation.objects.filter(
            shop_id=p.shop_id, buyer=p.buyer, state__in=OPEN_STATES
        ).first()
        if conversation is None:
            raise NotFound(_("No open conversation."))
        conversation = services.conversation_leave(conversation=conversation)
        return Response(conversation_data(conversation))


class WidgetRatingView(_WidgetView):
    @extend_schema(request=RatingSerializer, responses={201: RatingResultSerializer})
    def post(self, request: Request) -> Response:
        data = RatingSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rating = services.conversation_rate(buyer=_principal(request).buyer, **data.validated_data)
        return Response(
            {
                "conversation": rating.conversation_id,
                "score": rating.score,
                "comment": rating.comment,
            },
            status=status.HTTP_201_CREATED,
        )
