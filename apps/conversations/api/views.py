"""Conversations on the staff side (API.md, conversations), private contacts, intent rules."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api_permissions import HasShopPerm, IsStaff
from apps.accounts.models import Account
from apps.accounts.permissions import Perm, has_perm
from apps.accounts.selectors import account_get
from apps.conversations import lifecycle as services
from apps.conversations.api.serializers import (
    AfterSeqSerializer,
    CardCreateSerializer,
    ConversationFilterSerializer,
    ConversationSerializer,
    IntentRuleSerializer,
    InternalNoteCreateSerializer,
    InternalNoteSerializer,
    LiveConversationSerializer,
    MessageCreateSerializer,
    MessageSerializer,
    PrivateContactSerializer,
    QueueFilterSerializer,
    QueuePageSerializer,
    StaffBuyerPanelSerializer,
    TransferSerializer,
)
from apps.conversations.cards import card_send
from apps.conversations.contacts import private_contact_add, private_contact_remove
from apps.conversations.images import image_message_send
from apps.conversations.intents import intent_rule_create, intent_rule_delete, intent_rule_update
from apps.conversations.models import (
    Conversation,
    IntentRule,
    Message,
    MessageKind,
    PrivateContact,
    Sender,
)
from apps.conversations.notes import internal_note_add, internal_notes, may_read_order_notes
from apps.conversations.payloads import (
    ConversationData,
    conversation_payload,
    internal_note_payload,
    message_payload,
)
from apps.conversations.privacy import message_view, sees_buyer_info
from apps.conversations.recall import agent_message_recall
from apps.conversations.selectors import (
    QUEUE_FIGURES,
    QueueFigures,
    conversation_get,
    conversations_visible_to,
    queue_figures,
    queue_figures_all,
    queue_list,
)
from apps.conversations.supervision import (
    conversation_unwatch,
    conversation_watch,
    live_conversations,
    live_conversations_data,
)
from apps.core.errors import DomainError, Forbidden, NotFound
from apps.core.schema import UNKNOWN_REFERENCE
from apps.core.selectors import get_by_id
from apps.routing.models import Group
from apps.safety import redact
from apps.safety.selectors import buyer_block_of
from apps.safety.services import block_data
from apps.shopdata import selectors as shopdata_selectors
from apps.shopdata import services as shopdata_services
from apps.shopdata.api.serializers import (
    OrderNoteCreateSerializer,
    OrderNoteSerializer,
)
from apps.shopdata.models import Order, OrderNote
from apps.shopdata.selectors import note_data


def conversation_data(
    conversation: Conversation, figures: dict[int, QueueFigures] | None = None
) -> ConversationData:
    """The conversation of API.md with its queue figures (C5); pass ``figures`` (from
    ``queue_figures_all``) when answering many conversations of one shop."""
    if figures is not None:
        mine = figures.get(conversation.pk)
    elif conversation.state == "queued" and QUEUE_FIGURES in conversation.__dict__:
        mine = conversation.__dict__[QUEUE_FIGURES]  # told by the pass that just queued it
    else:
        mine = queue_figures(conversation)
    return conversation_payload(conversation, queue=mine.as_dict() if mine else None)


def conversations_data(conversations: list[Conversation]) -> list[ConversationData]:
    """Many conversations, with the queue figures computed once per shop."""
    shops = {c.shop_id for c in conversations if c.state == "queued"}
    figures: dict[int, QueueFigures] = {}
    for shop_id in shops:
        figures.update(queue_figures_all(shop_id=shop_id))
    return [conversation_data(c, figures) for c in conversations]


def _staff(request: Request) -> Account:
    return request.user  # type: ignore[return-value]


class ImageUploadSerializer(serializers.Serializer[dict[str, Any]]):
    """SPEC I1: ``multipart/form-data`` with the image file (JPEG, PNG or WebP)."""

    image = serializers.FileField(help_text="JPEG, PNG or WebP, at most HELPDESK_IMAGE_MAX_BYTES.")
    client_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class BodyTooLarge(DomainError):
    status_code = 413
    code = "too_large"


def refuse_large_body(request: Request) -> None:
    """An upload's body larger than ``HELPDESK_UPLOAD_MAX_BODY_BYTES`` is refused with a JSON
    413 before it is read (a file within it but above the image limit is a 400 on ``image``)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.HELPDESK_UPLOAD_MAX_BODY_BYTES:
        raise BodyTooLarge(_("The request is too large."))


def image_upload(request: Request) -> tuple[Any, str]:
    """The uploaded file and the ``client_id`` of an image upload (I1), checked."""
    refuse_large_body(request)
    data = ImageUploadSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data["image"], data.validated_data["client_id"]


class ConversationViewSet(viewsets.GenericViewSet[Conversation]):
    """What the caller may see (SPEC E6); actions answer the resulting conversation."""

    permission_classes = [IsStaff]
    serializer_class = ConversationSerializer  # documents conversation_payload
    tenant_model = Conversation
    tenant_probe_body = {"body": "isolation-probe", "to_group": 1, "note": "isolation-probe"}

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            return Conversation.objects.none()
        return conversations_visible_to(_staff(self.request))

    def get_object(self) -> Conversation:
        return conversation_get(account=_staff(self.request), conversation_id=self.kwargs["pk"])

    @extend_schema(parameters=[ConversationFilterSerializer], responses=ConversationSerializer)
    def list(self, request: Request) -> Response:
        filters = ConversationFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        f = filters.validated_data
        rows = self.get_queryset().order_by("-created_at", "-id")
        if "state" in f:
            rows = rows.filter(state=f["state"])
        if "agent" in f:
            rows = rows.filter(agent_id=f["agent"])
        if "buyer" in f:
            rows = rows.filter(buyer__external_id=f["buyer"])
        if "group" in f:
            rows = rows.filter(group_id=f["group"])
        if "since" in f:
            rows = rows.filter(created_at__gte=f["since"])
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(conversations_data(list(page or [])))

    @extend_schema(responses=ConversationSerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(conversation_data(self.get_object()))

    @extend_schema(
        methods=["GET"],
        parameters=[AfterSeqSerializer],
        responses=MessageSerializer(many=True),
        description="Messages after `after_seq`, oldest first.",
    )
    @extend_schema(
        methods=["POST"],
        request=MessageCreateSerializer,
        responses={201: MessageSerializer, 200: MessageSerializer},
        description="201 with the new message; 200 with the one stored for a `client_id`.",
    )
    @action(detail=True, methods=["get", "post"])
    def messages(self, request: Request, pk: str) -> Response:
        conversation = self.get_object()
        if request.method == "GET":
            query = AfterSeqSerializer(data=request.query_params)
            query.is_valid(raise_exception=True)
            rows = (
                Message.objects.filter(
                    conversation=conversation, seq__gt=query.validated_data["after_seq"]
                )
                .select_related("attachment")  # I1: an image message's picture, same query
                .order_by("seq")
            )
            page = self.paginate_queryset(rows)  # type: ignore[arg-type]
            shown = message_view(_staff(request))  # SPEC I6: masked without view_buyer_info
            return self.get_paginated_response([shown(message_payload(m)) for m in page or []])  # type: ignore[attr-defined]
        data = MessageCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message, created = services.agent_message_send(
            account=_staff(request), conversation=conversation, **data.validated_data
        )
        return Response(
            message_view(_staff(request))(message_payload(message)),
            status=status.HTTP_201_CREATED if created else 200,
        )

    @extend_schema(
        request={"multipart/form-data": ImageUploadSerializer},
        responses={201: MessageSerializer, 200: MessageSerializer},
        description="SPEC I1: the holding agent sends an image (JPEG, PNG, WebP); 201 with the "
        "new `image` message, 200 with the one stored for a `client_id`.",
    )
    @action(detail=True, methods=["post"])
    def images(self, request: Request, pk: str) -> Response:
        conversation = self.get_object()
        upload, client_id = image_upload(request)
        message, created = image_message_send(
            conversation=conversation,
            sender=Sender.AGENT,
            agent=_staff(request),
            upload=upload,
            size=upload.size,
            client_id=client_id,
        )
        return Response(
            message_payload(message), status=status.HTTP_201_CREATED if created else 200
        )

    @extend_schema(request=None, responses=ConversationSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        conversation = services.conversation_close(
            conversation=self.get_object(), actor=_staff(request)
        )
        return Response(conversation_data(conversation))

    @extend_schema(request=TransferSerializer, responses=ConversationSerializer)
    @action(detail=True, methods=["post"])
    def transfer(self, request: Request, pk: str) -> Response:
        conversation = self.get_object()
        data = TransferSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        shop_id = _staff(request).shop_id
        to_account = to_group = None
        if "to_account" in data.validated_data:
            to_account = account_get(shop_id=shop_id, account_id=data.validated_data["to_account"])
        else:
            to_group = Group.objects.filter(
                shop_id=shop_id, pk=data.validated_data["to_group"]
            ).first()
            if to_group is None:
                raise NotFound("No such group.", field="to_group")
        conversation = services.conversation_transfer(
            conversation=conversation,
            actor=_staff(request),
            to_account=to_account,
            to_group=to_group,
            note=data.validated_data["note"],
        )
        return Response(conversation_data(conversation))

    @extend_schema(request=None, responses=ConversationSerializer)
    @action(detail=True, methods=["post"])
    def claim(self, request: Request, pk: str) -> Response:
        conversation = services.conversation_claim(
            conversation=self.get_object(), actor=_staff(request)
        )
        return Response(conversation_data(conversation))

    # Supervision (SPEC I3, amended): watch a live conversation, take it over

    @extend_schema(
        request=None,
        responses=LiveConversationSerializer(many=True),
        description="SPEC I3: the shop's live conversations (`active`), longest served first, "
        "with the agent's name, the last message and whether the caller watches each; for the "
        "main account and `view_monitor` (else 403).",
    )
    @action(detail=False, methods=["get"])
    def live(self, request: Request) -> Response:
        account = _staff(request)
        _may_watch(account)
        page = self.paginate_queryset(live_conversations(shop_id=account.shop_id))
        return self.get_paginated_response(live_conversations_data(page or [], account=account))

    @extend_schema(
        methods=["POST"],
        request=None,
        responses=ConversationSerializer,
        description="SPEC I3: watch a live conversation: its events (messages, notes, state) "
        "reach the caller's agent socket as they reach the holding agent, until it stops "
        "watching, takes it over or the conversation closes. The main account and "
        "`view_monitor` (else 403); 409 unless `active`, for the holding agent itself, or "
        "beyond 10 watchers. Watching again changes nothing.",
    )
    @extend_schema(
        methods=["DELETE"],
        request=None,
        responses={204: None},
        description="SPEC I3: stop watching (204, also when the caller was not watching).",
    )
    @action(detail=True, methods=["post", "delete"])
    def watch(self, request: Request, pk: str) -> Response:
        account = _staff(request)
        _may_watch(account)
        conversation = self.get_object()
        if request.method == "DELETE":
            conversation_unwatch(conversation=conversation, account=account)
            return Response(status=status.HTTP_204_NO_CONTENT)
        conversation = conversation_watch(conversation=conversation, account=account)
        return Response(conversation_data(conversation))

    @extend_schema(
        request=None,
        responses=ConversationSerializer,
        description="SPEC I3: the caller takes a live conversation over (a transfer to itself: "
        "the agent it leaves is told, the buyer gets the transfer notice, an internal note "
        "records it). The main account, or `view_monitor` with `chat` (else 403); 409 unless "
        "`active`, or while the caller is offline.",
    )
    @action(detail=True, methods=["post"], url_path="take-over")
    def take_over(self, request: Request, pk: str) -> Response:
        account = _staff(request)
        if not (has_perm(account, Perm.VIEW_MONITOR) and has_perm(account, Perm.CHAT)):
            raise Forbidden(
                _("Taking over a conversation needs the view_monitor and chat permissions.")
            )
        conversation = services.conversation_take_over(
            conversation=self.get_object(), actor=account
        )
        return Response(conversation_data(conversation))

    # The agent's buyer panel, cards and internal notes (SPEC E3-E5, I1, I3)

    @extend_schema(
        request=None,
        responses=StaffBuyerPanelSerializer,
        description="SPEC E3-E5: the buyer panel of the conversation's buyer; `blocked`: the "
        "shop's block of this buyer, or null (SPEC I6). Phone numbers and addresses are masked "
        "for staff without `view_buyer_info`.",
    )
    @action(detail=True, methods=["get"])
    def buyer(self, request: Request, pk: str) -> Response:
        conversation = self.get_object()
        panel = shopdata_selectors.buyer_panel(
            buyer=conversation.buyer,
            entrance=conversation.entrance,
            product=conversation.product,
            order=conversation.order,
        )
        if not sees_buyer_info(_staff(request)):
            panel = redact.buyer_panel(panel)  # SPEC I6
        block = buyer_block_of(
            shop_id=conversation.shop_id, external_id=conversation.buyer.external_id
        )
        return Response({**panel, "blocked": block_data(block) if block is not None else None})

    @extend_schema(
        request=CardCreateSerializer,
        responses={201: MessageSerializer},
        description="SPEC E4, E5, I1: the holding agent sends a card; its `card` holds the "
        "data. The after-sales card needs `handle_after_sales`.",
    )
    @action(detail=True, methods=["post"])
    def cards(self, request: Request, pk: str) -> Response:
        conversation = self.get_object()
        data = CardCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        kind = MessageKind(data.validated_data["kind"])
        account = _staff(request)
        if kind == MessageKind.AFTER_SALE_CARD and not has_perm(account, Perm.HANDLE_AFTER_SALES):
            raise Forbidden(_("Sending an after-sales card needs the after-sales permission."))
        message = card_send(
            account=account, conversation=conversation, kind=kind, ref=data.validated_data["ref"]
        )
        return Response(
            message_view(account)(message_payload(message)), status=status.HTTP_201_CREATED
        )

    @extend_schema(
        methods=["GET"],
        request=None,
        responses=InternalNoteSerializer(many=True),
        description="SPEC I3: the conversation's internal notes, oldest first (staff only).",
    )
    @extend_schema(
        methods=["POST"],
        request=InternalNoteCreateSerializer,
        responses={201: InternalNoteSerializer},
        description="SPEC I3: a note for staff only, never in the buyer's messages or stream.",
    )
    @action(detail=True, methods=["get", "post"])
    def notes(self, request: Request, pk: str) -> Response:
        conversation = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(internal_notes(conversation))  # type: ignore[arg-type]
            return self.get_paginated_response(
                [internal_note_payload(n) for n in page or []]  # type: ignore[attr-defined]
            )
        data = InternalNoteCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        note = internal_note_add(
            conversation=conversation, author=_staff(request), body=data.validated_data["body"]
        )
        return Response(internal_note_payload(note), status=status.HTTP_201_CREATED)


def _may_watch(account: Account) -> None:
    """SPEC I3 (amended): the main account and ``view_monitor`` watch live conversations."""
    if not has_perm(account, Perm.VIEW_MONITOR):
        raise Forbidden(_("Watching a conversation needs the view_monitor permission."))


class MessageRecallView(APIView):
    """SPEC I1: the agent who sent a message recalls it within 2 minutes (409 after; 403 for
    somebody else's message, 404 for a conversation the caller may not see)."""

    permission_classes = [IsStaff]
    tenant_model = Message
    tenant_lookup_fields = {"pk": "conversation_id", "message_id": "pk"}

    @extend_schema(request=None, responses=MessageSerializer)
    def post(self, request: Request, pk: int, message_id: int) -> Response:
        conversation = conversation_get(account=_staff(request), conversation_id=pk)
        message = agent_message_recall(
            account=_staff(request), conversation=conversation, message_id=message_id
        )
        return Response(message_view(_staff(request))(message_payload(message)))


class QueueView(APIView):
    """The waiting buyers in order with their waited seconds (C4, C5)."""

    permission_classes = [IsStaff]

    @extend_schema(
        parameters=[QueueFilterSerializer],
        responses={200: QueuePageSerializer, 404: UNKNOWN_REFERENCE},
    )
    def get(self, request: Request) -> Response:
        from django.utils import timezone

        query = QueueFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        shop_id = _staff(request).shop_id
        group = query.validated_data.get("group")
        if group is not None and not Group.objects.filter(shop_id=shop_id, pk=group).exists():
            raise NotFound("No such group.", field="group")
        now = timezone.now()
        rows = queue_list(shop_id=shop_id, group_id=group)
        figures = queue_figures_all(shop_id=shop_id)
        results = [
            {
                **conversation_data(c, figures),
                "waited_seconds": int((now - c.queued_at).total_seconds()) if c.queued_at else 0,
            }
            for c in rows
        ]
        return Response({"count": len(results), "next": None, "previous": None, "results": results})


class PrivateContactViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[PrivateContact]):
    """B8: the main account's private buyers, by external id."""

    permission_classes = [HasShopPerm.of(Perm.MANAGE_ROUTING)]
    serializer_class = PrivateContactSerializer
    lookup_field = "buyer_id"
    lookup_value_regex = "[^/]+"
    tenant_model = PrivateContact
    tenant_lookup_fields = {"buyer_id": "buyer.external_id"}

    def get_queryset(self) -> Any:
        return (
            PrivateContact.objects.filter(shop_id=_staff(self.request).shop_id)
            .select_related("buyer")
            .order_by("id")
        )

    @extend_schema(responses=PrivateContactSerializer)
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(
            [
                {"buyer": c.buyer.external_id, "name": c.buyer.name, "created_at": c.created_at}
                for c in page or []
            ]
        )

    @extend_schema(request=PrivateContactSerializer, responses={201: PrivateContactSerializer})
    def create(self, request: Request) -> Response:
        data = PrivateContactSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        contact = private_contact_add(
            actor=_staff(request), buyer_external_id=data.validated_data["buyer"]
        )
        buyer = contact.buyer
        return Response(
            {"buyer": buyer.external_id, "name": buyer.name, "created_at": contact.created_at},
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("buyer_id", str, OpenApiParameter.PATH, description="External id.")
        ]
    )
    def destroy(self, request: Request, buyer_id: str) -> Response:
        private_contact_remove(actor=_staff(request), buyer_external_id=buyer_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class IntentRuleViewSet(viewsets.ModelViewSet[IntentRule]):
    """The service assistant's intents (B4)."""

    serializer_class = IntentRuleSerializer
    tenant_model = IntentRule
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_permissions(self) -> list[Any]:
        if self.action in ("list", "retrieve"):
            return [IsStaff()]
        return [HasShopPerm.of(Perm.MANAGE_ROUTING)()]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            return IntentRule.objects.none()
        return IntentRule.objects.filter(shop_id=_staff(self.request).shop_id)

    def get_object(self) -> IntentRule:
        return get_by_id(self.get_queryset(), self.kwargs["pk"], "No such intent.")

    # The serializer parses; the writes and their rules are the service's (the pages use it too).
    def perform_create(self, serializer: Any) -> None:
        data = serializer.validated_data
        serializer.instance = intent_rule_create(
            actor=_staff(self.request), name=data["name"], keywords=data["keywords"]
        )

    def perform_update(self, serializer: Any) -> None:
        data = serializer.validated_data
        serializer.instance = intent_rule_update(
            actor=_staff(self.request),
            rule=serializer.instance,
            name=data.get("name"),
            keywords=data.get("keywords"),
        )

    def perform_destroy(self, instance: IntentRule) -> None:
        intent_rule_delete(actor=_staff(self.request), rule=instance)


class OrderNotesView(GenericAPIView[OrderNote]):
    """SPEC E4: an order's notes, newest (the current one) first. Written by the main account or
    ``handle_orders``; read by staff who may see a conversation of the order's buyer (others:
    404, as for a conversation they may not see). Here rather than in ``apps.shopdata``: who
    reads follows who sees conversations (SPEC E6), which sits above the shop's data."""

    tenant_model = Order
    tenant_probe_body = {"text": "isolation-probe", "flag": "red"}
    # What OPTIONS describes (DRF's metadata for POST): without it, OPTIONS answered 500. A plain
    # serializer (the note's form), not one of the view's model.
    serializer_class = OrderNoteCreateSerializer  # type: ignore[assignment]

    def get_permissions(self) -> list[Any]:
        if self.request.method == "POST":
            return [HasShopPerm.of(Perm.HANDLE_ORDERS)()]
        return [IsStaff()]

    def _order(self, external_id: str) -> Order:
        account = _staff(self.request)
        order = shopdata_selectors.order_get(shop_id=account.shop_id, external_id=external_id)
        if self.request.method == "GET" and not may_read_order_notes(account=account, order=order):
            raise NotFound(_("No such order."))
        return order

    @extend_schema(
        responses=OrderNoteSerializer(many=True), description="The history, newest first."
    )
    def get(self, request: Request, external_id: str) -> Response:
        order = self._order(external_id)
        page = self.paginate_queryset(shopdata_selectors.order_notes(order))
        return self.get_paginated_response([note_data(n) for n in page or []])

    @extend_schema(request=OrderNoteCreateSerializer, responses={201: OrderNoteSerializer})
    def post(self, request: Request, external_id: str) -> Response:
        order = self._order(external_id)
        data = OrderNoteCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        note = shopdata_services.order_note_add(
            order=order,
            author=_staff(request),
            text=data.validated_data["text"],
            flag=data.validated_data["flag"],
        )
        return Response(note_data(note), status=status.HTTP_201_CREATED)
