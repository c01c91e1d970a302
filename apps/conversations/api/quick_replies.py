"""Quick replies over REST (SPEC D7, API.md "Quick replies"). Here, beside the conversations'
API, because the suggestions read a conversation's latest buyer message; the replies themselves
live in ``apps.quickreplies``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.api_permissions import IsStaff
from apps.accounts.models import Account
from apps.conversations.models import Message, Sender
from apps.conversations.selectors import conversation_get
from apps.core.errors import InvalidFields
from apps.core.parsers import LimitedJSONParser
from apps.core.schema import UNKNOWN_REFERENCE
from apps.quickreplies import services
from apps.quickreplies.matching import ranked
from apps.quickreplies.models import KEYWORD_MAX, KEYWORDS_MAX, POSITION_MAX, TEXT_MAX, QuickReply
from apps.quickreplies.selectors import replies_for, replies_visible_to, reply_get


class QuickReplySerializer(serializers.Serializer[QuickReply]):
    id = serializers.IntegerField(read_only=True)
    text = serializers.CharField(max_length=TEXT_MAX, trim_whitespace=True)
    keywords = serializers.ListField(
        child=serializers.CharField(max_length=KEYWORD_MAX),
        max_length=KEYWORDS_MAX,
        required=False,
        default=list,
    )
    category = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    personal = serializers.BooleanField(required=False, default=False)
    owner = serializers.IntegerField(source="owner_id", read_only=True, allow_null=True)
    position = serializers.IntegerField(
        min_value=0, max_value=POSITION_MAX, required=False, default=0
    )


class QuickReplyFilterSerializer(serializers.Serializer[dict[str, Any]]):
    q = serializers.CharField(required=False, allow_blank=True, default="")
    category = serializers.CharField(required=False, allow_blank=True)


class SuggestQuerySerializer(serializers.Serializer[dict[str, Any]]):
    conversation = serializers.IntegerField()


class SuggestedReplySerializer(QuickReplySerializer):
    matched_keywords = serializers.ListField(child=serializers.CharField(), read_only=True)


class SuggestionSerializer(serializers.Serializer[dict[str, Any]]):
    message = serializers.IntegerField(allow_null=True)
    results = SuggestedReplySerializer(many=True)


class ImportSerializer(serializers.Serializer[dict[str, Any]]):
    file = serializers.FileField()


def _staff(request: Request) -> Account:
    return request.user  # type: ignore[return-value]


def reply_payload(reply: QuickReply) -> dict[str, Any]:
    return {
        "id": reply.pk,
        "text": reply.text,
        "keywords": list(reply.keywords),
        "category": reply.category,
        "personal": reply.personal,
        "owner": reply.owner_id,
        "position": reply.position,
    }


class CSVFileRenderer(BaseRenderer):
    """``?format=csv``, the export's documented parameter, selects this renderer (DRF answered
    it 404 while no renderer had that format). The export writes its own CSV; errors are JSON
    (``apps.core.api``)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        return b"" if data is None else str(data).encode(self.charset)


class QuickReplyViewSet(viewsets.GenericViewSet[QuickReply]):
    """The shop-wide replies and the caller's own (``personal``); another account's personal
    reply is 404 like another shop's."""

    permission_classes = [IsStaff]
    serializer_class = QuickReplySerializer
    tenant_model = QuickReply
    tenant_probe_body = {"text": "isolation-probe"}
    # The API's JSON parser (depth and length limits, apps.core.parsers): DRF's own answered a
    # body nested 1,000 deep with a 500.
    parser_classes = [LimitedJSONParser, MultiPartParser, FormParser]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            return QuickReply.objects.none()
        return replies_visible_to(_staff(self.request))

    def get_object(self) -> QuickReply:
        return reply_get(account=_staff(self.request), reply_id=self.kwargs["pk"])

    @extend_schema(
        parameters=[QuickReplyFilterSerializer], responses=QuickReplySerializer(many=True)
    )
    def list(self, request: Request) -> Response:
        filters = QuickReplyFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        f = filters.validated_data
        rows = replies_for(_staff(request), q=f["q"], category=f.get("category"))
        results = [reply_payload(r) for r in rows]
        return Response({"count": len(results), "next": None, "previous": None, "results": results})

    def create(self, request: Request) -> Response:
        data = QuickReplySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reply = services.quick_reply_create(actor=_staff(request), **data.validated_data)
        return Response(reply_payload(reply), status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(reply_payload(self.get_object()))

    @extend_schema(request=QuickReplySerializer, responses=QuickReplySerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        reply = self.get_object()
        data = QuickReplySerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = {k: v for k, v in data.validated_data.items() if k != "personal"}
        if "personal" in request.data and bool(data.validated_data.get("personal")) != (
            reply.personal
        ):
            raise InvalidFields({"personal": [_("A reply stays shop-wide or personal.")]})
        reply = services.quick_reply_update(actor=_staff(request), reply=reply, **changes)
        return Response(reply_payload(reply))

    def destroy(self, request: Request, pk: str) -> Response:
        services.quick_reply_delete(actor=_staff(request), reply=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        parameters=[SuggestQuerySerializer],
        responses={200: SuggestionSerializer, 404: UNKNOWN_REFERENCE},
    )
    @action(detail=False, methods=["get"])
    def suggest(self, request: Request) -> Response:
        """The replies, those whose keywords occur in the buyer's latest message first."""
        query = SuggestQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        account = _staff(request)
        conversation = conversation_get(
            account=account, conversation_id=query.validated_data["conversation"]
        )
        latest = (
            Message.objects.filter(conversation=conversation, sender=Sender.BUYER)
            .order_by("-seq")
            .only("id", "body")
            .first()
        )
        text = latest.body if latest is not None else ""
        results = [
            {**reply_payload(s.reply), "matched_keywords": list(s.matched)}
            for s in ranked(replies_for(account), text)
        ]
        return Response({"message": latest.pk if latest else None, "results": results})

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["csv"], required=False)],
        responses={(200, "text/csv"): str},
    )
    @action(
        detail=False,
        methods=["get"],
        url_path="export",
        renderer_classes=[JSONRenderer, CSVFileRenderer],
    )
    def export(self, request: Request) -> HttpResponse:
        """The shop-wide replies as CSV (header: category, text, keywords, position)."""
        body = services.export_csv(shop_id=_staff(request).shop_id)
        response = HttpResponse("\ufeff" + body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="quick-replies.csv"'
        return response

    @extend_schema(
        request={"multipart/form-data": ImportSerializer},
        responses={201: QuickReplySerializer(many=True)},
    )
    @action(detail=False, methods=["post"], url_path="import")
    def import_(self, request: Request) -> Response:
        """Adds the shop-wide replies of a CSV file (the export's shape); all or nothing."""
        upload = ImportSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        raw = upload.validated_data["file"].read()
        try:
            data = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidFields({"file": [_("The file is not UTF-8 text.")]}) from None
        made = services.import_csv(actor=_staff(request), data=data)
        results = [reply_payload(r) for r in made]
        return Response(
            {"count": len(results), "next": None, "previous": None, "results": results},
            status=status.HTTP_201_CREATED,
        )
