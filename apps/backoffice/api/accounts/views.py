"""Shops and staff endpoints of API.md. Views parse, call a service, answer."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api_permissions import HasShopPerm, IsStaff
from apps.accounts.models import Account
from apps.accounts.permissions import Perm, has_perm
from apps.accounts.selectors import account_get, accounts_of_shop
from apps.backoffice import services
from apps.backoffice.api.accounts.serializers import (
    AccountCreateSerializer,
    AccountSerializer,
    AccountUpdateSerializer,
    MeUpdateSerializer,
    PasswordSerializer,
    SignupResultSerializer,
    SignupSerializer,
    StatusSerializer,
    TokenLoginSerializer,
    TokenResultSerializer,
)
from apps.conversations.lifecycle import agent_set_status
from apps.core.errors import Forbidden, InvalidInput
from apps.core.throttling import ScopedRateThrottle
from apps.routing.models import AgentStatus


def _fresh(account: Account) -> Account:
    """Reloaded with its routing state, as the serializer needs it."""
    return account_get(shop_id=account.shop_id, account_id=account.pk)


def _account_data(account: Account) -> dict[str, Any]:
    return AccountSerializer(_fresh(account)).data


class SignupView(APIView):
    """SPEC A1: sign up a shop and its main account."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "signup"

    @extend_schema(request=SignupSerializer, responses={201: SignupResultSerializer})
    def post(self, request: Request) -> Response:
        data = SignupSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.shop_signup(**data.validated_data)
        return Response(
            SignupResultSerializer(
                {
                    "shop": result.shop,
                    "account": _fresh(result.account),
                    "token": result.token,
                }
            ).data,
            status=status.HTTP_201_CREATED,
        )


class TokenLoginView(APIView):
    """SPEC A2: ``shop`` or ``shop:name``; a full-width colon is accepted."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(request=TokenLoginSerializer, responses={200: TokenResultSerializer})
    def post(self, request: Request) -> Response:
        data = TokenLoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account = authenticate(request._request, **data.validated_data)
        if account is None:
            raise InvalidInput(_("Unable to log in with that name and password."))
        assert isinstance(account, Account)
        return Response(
            TokenResultSerializer(
                {"token": services.token_for(account), "account": _fresh(account)}
            ).data
        )


class MeView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(responses=AccountSerializer)
    def get(self, request: Request) -> Response:
        return Response(_account_data(request.user))  # type: ignore[arg-type]

    @extend_schema(request=MeUpdateSerializer, responses=AccountSerializer)
    def patch(self, request: Request) -> Response:
        data = MeUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.me_update(account=request.user, **data.validated_data)  # type: ignore[arg-type]
        return Response(_account_data(request.user))  # type: ignore[arg-type]


class MeStatusView(APIView):
    """Online, paused or offline; every call is also a presence heartbeat."""

    permission_classes = [IsStaff]

    @extend_schema(request=StatusSerializer, responses=AccountSerializer)
    def post(self, request: Request) -> Response:
        data = StatusSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        agent_set_status(
            account=request.user,  # type: ignore[arg-type]
            status=AgentStatus(data.validated_data["status"]),
        )
        return Response(_account_data(request.user))  # type: ignore[arg-type]


# The account fields that route buyers (B2, B3, C1): a routing manager sets them too.
ROUTING_ACCOUNT_FIELDS = frozenset({"group", "weight", "max_concurrent"})


class AccountViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Account]
):
    """Every account of the shop, main account first. Colleagues are visible to every agent
    (transfer needs them); changes need ``manage_accounts``."""

    serializer_class = AccountSerializer
    tenant_model = Account

    def get_permissions(self) -> list[Any]:
        if self.action in ("list", "retrieve", "partial_update"):  # a change: see below
            return [IsStaff()]
        return [HasShopPerm.of(Perm.MANAGE_ACCOUNTS)()]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            return Account.objects.none()
        return accounts_of_shop(shop_id=self.request.user.shop_id)  # type: ignore[union-attr]

    def get_object(self) -> Account:
        return account_get(shop_id=self.request.user.shop_id, account_id=self.kwargs["pk"])  # type: ignore[union-attr]

    @extend_schema(request=AccountCreateSerializer, responses={201: AccountSerializer})
    def create(self, request: Request) -> Response:
        data = AccountCreateSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if "permissions" in fields:
            fields["permissions"] = {Perm(p) for p in fields["permissions"]}
        account = services.account_create(actor=request.user, **fields)  # type: ignore[arg-type]
        return Response(_account_data(account), status=status.HTTP_201_CREATED)

    @extend_schema(request=AccountUpdateSerializer, responses=AccountSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        """``manage_accounts`` changes any field; ``manage_routing`` alone the routing ones
        (group, weight, max: A4 puts groups under it, as the groups page does)."""
        actor: Account = request.user  # type: ignore[assignment]
        fields_asked = set(request.data) if isinstance(request.data, dict) else set()
        if not has_perm(actor, Perm.MANAGE_ACCOUNTS) and not (
            has_perm(actor, Perm.MANAGE_ROUTING) and fields_asked <= ROUTING_ACCOUNT_FIELDS
        ):
            raise Forbidden(_("You need the manage_accounts permission."))
        account = self.get_object()
        data = AccountUpdateSerializer(
            data=request.data, context={"request": request}, partial=True
        )
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if "permissions" in fields:
            fields["permissions"] = {Perm(p) for p in fields["permissions"]}
        services.account_update(actor=request.user, account=account, **fields)  # type: ignore[arg-type]
        return Response(_account_data(account))

    def destroy(self, request: Request, pk: str) -> Response:
        services.account_delete(actor=request.user, account=self.get_object())  # type: ignore[arg-type]
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=PasswordSerializer, responses={204: None})
    @action(detail=True, methods=["post"])
    def password(self, request: Request, pk: str) -> Response:
        account = self.get_object()
        data = PasswordSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.account_reset_password(
            actor=request.user,  # type: ignore[arg-type]
            account=account,
            password=data.validated_data["password"],
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
