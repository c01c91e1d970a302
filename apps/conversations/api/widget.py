"""The buyer widget's REST side (API.md, buyer widget; SPEC F, H3)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from apps.conversations import services
from apps.conversations.api.serializers import (
    AfterSeqSerializer,
    ConversationSerializer,
    MessageCreateSerializer,
    MessageSerializer,
    RatingResultSerializer,
    RatingSerializer,
    WidgetAgentPageSerializer,
    WidgetConversationSerializer,
    WidgetMessagePageSerializer,
    WidgetSessionResultSerializer,
    WidgetSessionSerializer,
)
from apps.conversations.api.views import conversation_data
from apps.conversations.models import OPEN_STATES, Conversation, Message, Sender
from apps.conversations.payloads import message_payload
from apps.core.errors import Forbidden, InvalidInput, NotFound
from apps.routing.models import AgentState
from apps.shopdata.models import Buyer, Order, Product
from apps.shops.models import ShopSettings

TOKEN_SALT = "helpdesk.widget"
ANONYMOUS_PREFIX = "anon:"
EXTERNAL_ID_MAX = 64  # Buyer.external_id
TOKEN_MAX_AGE = 7 * 24 * 3600


@dataclass(frozen=True)
class BuyerPrincipal:
    """``request.user`` on widget views: a buyer of one shop, with the entrance it came from."""

    buyer: Buyer
    entrance: str
    product_id: int | None
    order_id: int | None

    is_authenticated = True
    is_active = True

    @property
    def shop_id(self) -> int:
        return self.buyer.shop_id


def buyer_token(buyer: Buyer, entrance: str, product: Product | None, order: Order | None) -> str:
    return signing.dumps(
        {
            "s": buyer.shop_id,
            "b": buyer.pk,
            "e": entrance,
            "p": product.pk if product else None,
            "o": order.pk if order else None,
        },
        salt=TOKEN_SALT,
    )


def principal_for_token(token: str) -> BuyerPrincipal | None:
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    buyer = Buyer.objects.filter(pk=data["b"], shop_id=data["s"]).first()
    if buyer is None:
        return None
    return BuyerPrincipal(buyer, data["e"], data["p"], data["o"])


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


def signature_valid(secret: str, buyer_id: str, signature: str) -> bool:
    """H3: hex HMAC-SHA256 of the UTF-8 buyer id, keyed with the UTF-8 widget secret."""
    expected = hmac.new(secret.encode(), buyer_id.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


class WidgetSessionView(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "widget"

    @extend_schema(request=WidgetSessionSerializer, responses=WidgetSessionResultSerializer)
    def post(self, request: Request) -> Response:
        data = WidgetSessionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        settings = ShopSettings.objects.select_related("shop").filter(shop__slug=v["shop"]).first()
        if settings is None:
            raise InvalidInput(_("Unknown shop."), field="shop")
        if not settings.system_enabled:
            raise Forbidden(_("Customer service is not available in this shop right now."))
        if v["entrance"] not in settings.entrances:
            raise Forbidden(_("Customer service is not offered on this page."))
        shop_id = settings.shop_id
        buyer_id = (v.get("buyer_id") or "").strip()
        signature = v.get("signature") or ""
        if buyer_id and signature:
            if not signature_valid(settings.widget_secret, buyer_id, signature):
                raise InvalidInput(
                    _("The signature does not match the buyer id."), field="signature"
                )
            external_id = buyer_id
        elif settings.allow_anonymous_buyers:
            # Unsigned visitors never map onto a real buyer's record.
            if len(ANONYMOUS_PREFIX + buyer_id) > EXTERNAL_ID_MAX:
                raise InvalidInput(
                    _("An anonymous visitor id has at most %(n)d characters.")
                    % {"n": EXTERNAL_ID_MAX - len(ANONYMOUS_PREFIX)},
                    field="buyer_id",
                )
            external_id = ANONYMOUS_PREFIX + (buyer_id or secrets.token_hex(8))
        else:
            raise InvalidInput(_("A signature is required."), field="signature")
        # The context is checked before the buyer is stored: a refused session stores nothing.
        product = order = None
        if v.get("product"):
            product = Product.objects.filter(shop_id=shop_id, external_id=v["product"]).first()
            if product is None:
                raise InvalidInput(_("Unknown product."), field="product")
        if v.get("order"):
            order = Order.objects.filter(
                shop_id=shop_id, external_id=v["order"], buyer__external_id=external_id
            ).first()
            if order is None:
                raise InvalidInput(_("Unknown order."), field="order")
        buyer, created = Buyer.objects.get_or_create(
            shop_id=shop_id, external_id=external_id, defaults={"name": v["name"].strip()}
        )
        if not created and v["name"].strip() and not buyer.name:
            buyer.name = v["name"].strip()
            buyer.save(update_fields=["name"])
        return Response(
            {
                "token": buyer_token(buyer, v["entrance"], product, order),
                "buyer": {"external_id": buyer.external_id, "name": buyer.name},
                "shop": {"slug": settings.shop.slug, "name": settings.shop.name},
            }
        )


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


class WidgetConversationView(_WidgetView):
    @extend_schema(responses=ConversationSerializer)
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
        if (
            chosen is not None
            and not AgentState.objects.filter(shop_id=p.shop_id, account_id=chosen).exists()
        ):  # checked before the conversation opens: bad input stores nothing
            raise InvalidInput(_("No such agent."), field="agent")
        conversation = services.conversation_open(
            buyer=p.buyer,
            entrance=p.entrance,
            product=Product.objects.filter(pk=p.product_id).first() if p.product_id else None,
            order=Order.objects.filter(pk=p.order_id).first() if p.order_id else None,
            intent=data.validated_data["intent"].strip(),
        )
        if data.validated_data["human"]:
            conversation = services.request_human(
                conversation=conversation,
                chosen_agent_id=data.validated_data.get("agent"),
                intent=data.validated_data["intent"].strip(),
            )
        conversation = Conversation.objects.select_related("buyer", "product", "order", "shop").get(
            pk=conversation.pk
        )
        return Response(conversation_data(conversation))


class WidgetMessagesView(_WidgetView):
    @extend_schema(parameters=[AfterSeqSerializer], responses=WidgetMessagePageSerializer)
    def get(self, request: Request) -> Response:
        conversation = _current(_principal(request))
        if conversation is None:
            raise NotFound(_("No conversation yet."))
        query = AfterSeqSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = Message.objects.filter(
            conversation=conversation, seq__gt=query.validated_data["after_seq"]
        ).order_by("seq")[:500]
        results = [message_payload(m) for m in rows]
        return Response({"count": len(results), "next": None, "previous": None, "results": results})

    @extend_schema(
        request=MessageCreateSerializer,
        responses={201: MessageSerializer, 200: MessageSerializer},
    )
    def post(self, request: Request) -> Response:
        data = MessageCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        p = _principal(request)
        conversation = Conversation.objects.filter(
            shop_id=p.shop_id, buyer=p.buyer, state__in=OPEN_STATES
        ).first()
        if conversation is None:  # writing again after the end opens a new conversation
            conversation = services.conversation_open(buyer=p.buyer, entrance=p.entrance)
        message, created = services.message_create(
            conversation=conversation, sender=Sender.BUYER, **data.validated_data
        )
        return Response(message_payload(message), status=201 if created else 200)


class WidgetLeaveView(_WidgetView):
    @extend_schema(request=None, responses=ConversationSerializer)
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
