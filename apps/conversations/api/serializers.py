from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from apps.conversations.models import (
    CloseReason,
    Entrance,
    IntentRule,
    MessageKind,
    NoteKind,
    Sender,
    State,
)
from apps.routing.models import AgentStatus
from apps.safety.api.serializers import BuyerBlockSerializer
from apps.shopdata.api.serializers import (
    AfterSaleSerializer,
    BuyerPanelSerializer,
    OrderCardSerializer,
    ProductCardSerializer,
)
from apps.shops.models import QueueMode

# Response serializers: they document (and, in tests, check) the shapes that
# apps.conversations.payloads builds for the REST answers and the events alike. The views answer
# with those payloads; these classes are never used to render, so the two cannot disagree silently
# (tests/conversations/test_api_shapes.py compares them).


class BuyerRefSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.IntegerField(read_only=True)
    external_id = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class QueueFiguresSerializer(serializers.Serializer[dict[str, Any]]):
    """SPEC C5, computed when read; position and estimate are null while hidden."""

    position = serializers.IntegerField(read_only=True, allow_null=True, min_value=1)
    eta_seconds = serializers.IntegerField(read_only=True, allow_null=True)
    hidden = serializers.BooleanField(read_only=True)


class RatingValueSerializer(serializers.Serializer[dict[str, Any]]):
    score = serializers.IntegerField(read_only=True, min_value=1, max_value=5)
    comment = serializers.CharField(read_only=True)


class ConversationSerializer(serializers.Serializer[Any]):
    """A conversation as API.md describes it (apps.conversations.payloads.conversation_payload)."""

    id = serializers.IntegerField(read_only=True)
    buyer = BuyerRefSerializer(read_only=True)
    state = serializers.ChoiceField(State.choices, read_only=True)
    agent = serializers.IntegerField(read_only=True, allow_null=True, help_text="Account id.")
    group = serializers.IntegerField(read_only=True, allow_null=True, help_text="Group id.")
    entrance = serializers.ChoiceField(Entrance.choices, read_only=True, allow_null=True)
    product = serializers.CharField(
        read_only=True, allow_null=True, help_text="The product's external id."
    )
    order = serializers.CharField(
        read_only=True, allow_null=True, help_text="The order's external id."
    )
    intent = serializers.CharField(read_only=True, allow_null=True)
    queue = QueueFiguresSerializer(read_only=True, allow_null=True)
    human_requested_at = serializers.DateTimeField(read_only=True, allow_null=True)
    assigned_at = serializers.DateTimeField(read_only=True, allow_null=True)
    first_response_at = serializers.DateTimeField(read_only=True, allow_null=True)
    closed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    close_reason = serializers.ChoiceField(CloseReason.choices, read_only=True, allow_null=True)
    from_offline_message = serializers.BooleanField(read_only=True)
    rating = RatingValueSerializer(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    last_seq = serializers.IntegerField(
        read_only=True, help_text="The seq of the latest message (0 before the first)."
    )


class QueuedConversationSerializer(ConversationSerializer):
    waited_seconds = serializers.IntegerField(read_only=True)


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="MessageCard",
        serializers=[OrderCardSerializer, AfterSaleSerializer, ProductCardSerializer],
        resource_type_field_name=None,
    )
)
class MessageCardField(serializers.JSONField):
    """SPEC E4, E5, I1: a card message's data, by the message's kind: an order card, an
    after-sales record (every field) or a product card. A field rather than a nested serializer:
    it is null on most messages (``tests/conversations/test_api_shapes.py`` reads a nested
    serializer as an object that is always there)."""


class ImageDataSerializer(serializers.Serializer[dict[str, Any]]):
    """SPEC I1: an image message's picture (apps.conversations.payloads.ImageData)."""

    url = serializers.CharField(read_only=True)
    thumbnail_url = serializers.CharField(read_only=True)
    width = serializers.IntegerField(read_only=True)
    height = serializers.IntegerField(read_only=True)
    content_type = serializers.CharField(read_only=True)
    size = serializers.IntegerField(read_only=True)


@extend_schema_field(ImageDataSerializer(allow_null=True))
class MessageImageField(serializers.JSONField):
    """SPEC I1: the picture of an image message, null for other messages (a field rather than
    a nested serializer for the reason ``MessageCardField`` gives)."""


class MessageSerializer(serializers.Serializer[dict[str, Any]]):
    """A message as API.md describes it (apps.conversations.payloads.message_payload)."""

    id = serializers.IntegerField(read_only=True)
    conversation = serializers.IntegerField(read_only=True)
    seq = serializers.IntegerField(read_only=True, min_value=1)
    sender = serializers.ChoiceField(Sender.choices, read_only=True)
    agent = serializers.IntegerField(read_only=True, allow_null=True)
    kind = serializers.ChoiceField(MessageKind.choices, read_only=True)
    body = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    client_id = serializers.CharField(read_only=True, allow_null=True)
    image = MessageImageField(
        read_only=True,
        allow_null=True,
        help_text="kind image: {url, thumbnail_url, width, height, content_type, size}, the "
        "URLs answering only to who may see the conversation; null otherwise and once recalled.",
    )
    recalled = serializers.BooleanField(
        read_only=True,
        help_text="I1: its sender took it back (body empty, no card or image from then on).",
    )
    card = MessageCardField(
        read_only=True,
        allow_null=True,
        help_text="The card's data as it was when sent (order_card, after_sale_card, "
        "product_card); null for other messages.",
    )


class LiveConversationSerializer(ConversationSerializer):
    """SPEC I3: a live conversation as the supervisor's list shows it
    (apps.conversations.supervision.LiveConversationData)."""

    agent_name = serializers.CharField(read_only=True, help_text="The holding agent's name.")
    last_message = MessageSerializer(read_only=True, allow_null=True)
    watching = serializers.BooleanField(
        read_only=True, help_text="Whether the caller watches it (POST .../watch/)."
    )


def page_of(
    child: type[serializers.BaseSerializer[Any]], name: str
) -> type[serializers.Serializer[Any]]:
    """A whole list in the paginated shape of API.md (for views that answer every row at once)."""
    fields: dict[str, Any] = {
        "count": serializers.IntegerField(read_only=True),
        "next": serializers.URLField(read_only=True, allow_null=True),
        "previous": serializers.URLField(read_only=True, allow_null=True),
        "results": child(many=True, read_only=True),
    }
    return type(name, (serializers.Serializer,), fields)


class ConversationFilterSerializer(serializers.Serializer[dict[str, Any]]):
    state = serializers.ChoiceField(State.choices, required=False)
    agent = serializers.IntegerField(required=False)
    buyer = serializers.CharField(required=False, max_length=64)
    group = serializers.IntegerField(required=False)
    since = serializers.DateTimeField(required=False)


class AfterSeqSerializer(serializers.Serializer[dict[str, Any]]):
    after_seq = serializers.IntegerField(min_value=0, required=False, default=0)


class MessageCreateSerializer(serializers.Serializer[dict[str, Any]]):
    body = serializers.CharField(max_length=5000)
    client_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class TransferSerializer(serializers.Serializer[dict[str, Any]]):
    to_account = serializers.IntegerField(required=False)
    to_group = serializers.IntegerField(required=False)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("to_account" in attrs) == ("to_group" in attrs):
            raise serializers.ValidationError(
                {"to_account": ["Name either to_account or to_group."]}
            )
        return attrs


class QueueFilterSerializer(serializers.Serializer[dict[str, Any]]):
    group = serializers.IntegerField(required=False)


class PrivateContactSerializer(serializers.Serializer[Any]):
    buyer = serializers.CharField(max_length=64, help_text="The buyer's external id.")
    name = serializers.CharField(read_only=True, help_text="The buyer's name.")
    created_at = serializers.DateTimeField(read_only=True)


class IntentRuleSerializer(serializers.ModelSerializer[IntentRule]):
    keywords = serializers.ListField(child=serializers.CharField(max_length=64), allow_empty=False)

    class Meta:
        model = IntentRule
        fields = ["id", "name", "keywords", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate_name(self, value: str) -> str:
        value = value.strip()
        shop_id = self.context["request"].user.shop_id
        clash = IntentRule.objects.filter(shop_id=shop_id, name=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError("An intent with this name already exists.")
        return value

    def validate_keywords(self, value: list[str]) -> list[str]:
        cleaned = sorted({k.strip() for k in value if k.strip()})
        if not cleaned:
            raise serializers.ValidationError("Give at least one keyword.")
        return cleaned


class WidgetSessionSerializer(serializers.Serializer[dict[str, Any]]):
    shop = serializers.SlugField(max_length=30)
    buyer_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    # H3: 64 hexadecimal digits (a non-ASCII signature reached the comparison and answered 500).
    signature = serializers.RegexField(
        r"^\s*[0-9A-Fa-f]{64}\s*$",
        max_length=128,
        required=False,
        allow_blank=True,
        error_messages={"invalid": _("A signature is 64 hexadecimal digits (HMAC-SHA256).")},
    )
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    entrance = serializers.ChoiceField(Entrance.choices)
    product = serializers.CharField(max_length=64, required=False, allow_blank=True)
    order = serializers.CharField(max_length=64, required=False, allow_blank=True)


class ShopRefSerializer(serializers.Serializer[dict[str, Any]]):
    slug = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class WidgetBuyerSerializer(serializers.Serializer[dict[str, Any]]):
    external_id = serializers.CharField(
        read_only=True, help_text="`anon:...` for an anonymous visitor."
    )
    name = serializers.CharField(read_only=True)


class WidgetSessionResultSerializer(serializers.Serializer[dict[str, Any]]):
    token = serializers.CharField(
        read_only=True, help_text="Send it as `Authorization: Buyer <token>`."
    )
    buyer = WidgetBuyerSerializer(read_only=True)
    shop = ShopRefSerializer(read_only=True)


class WidgetAppearanceSerializer(serializers.Serializer[dict[str, Any]]):
    """How a shop's widget looks (seed 003): public, read by the embed script on shops' pages."""

    title = serializers.CharField(read_only=True, help_text="The widget's title.")
    color = serializers.CharField(read_only=True, help_text="Accent colour, `#RRGGBB`.")
    position = serializers.ChoiceField(
        ["right", "left"], read_only=True, help_text="The launcher's corner of the page."
    )
    greeting = serializers.CharField(
        read_only=True, help_text="Shown to the buyer before the first message; may be empty."
    )
    system_enabled = serializers.BooleanField(read_only=True)
    queue_mode = serializers.ChoiceField(
        QueueMode.choices,
        read_only=True,
        help_text="SPEC C2: whether the shop queues (seed 004: the chat window says so).",
    )
    intent_menu_enabled = serializers.BooleanField(
        read_only=True,
        help_text="Seed 002: the widget offers GET /widget/intents/ as a question menu.",
    )


class WidgetAgentSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(AgentStatus.choices, read_only=True)


class WidgetConversationSerializer(serializers.Serializer[dict[str, Any]]):
    human = serializers.BooleanField(default=False)
    agent = serializers.IntegerField(required=False, allow_null=True)
    intent = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class RatingSerializer(serializers.Serializer[dict[str, Any]]):
    score = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class RatingResultSerializer(serializers.Serializer[dict[str, Any]]):
    conversation = serializers.IntegerField(read_only=True)
    score = serializers.IntegerField(read_only=True)
    comment = serializers.CharField(read_only=True)


QueuePageSerializer = page_of(QueuedConversationSerializer, "QueuePage")
WidgetAgentPageSerializer = page_of(WidgetAgentSerializer, "WidgetAgentPage")
WidgetMessagePageSerializer = page_of(MessageSerializer, "WidgetMessagePage")


# Cards and internal notes (SPEC E4, E5, I1, I3)


class CardCreateSerializer(serializers.Serializer[dict[str, Any]]):
    kind = serializers.ChoiceField(
        [MessageKind.ORDER_CARD, MessageKind.AFTER_SALE_CARD, MessageKind.PRODUCT_CARD]
    )
    ref = serializers.CharField(
        max_length=64, help_text="The external id of the order, after-sales record or product."
    )


class InternalNoteCreateSerializer(serializers.Serializer[dict[str, Any]]):
    body = serializers.CharField(max_length=2000)


class InternalNoteSerializer(serializers.Serializer[dict[str, Any]]):
    """A note for staff only (SPEC I3; apps.conversations.payloads.internal_note_payload)."""

    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(NoteKind.choices, read_only=True)
    body = serializers.CharField(read_only=True)
    author = serializers.IntegerField(read_only=True, allow_null=True, help_text="Account id.")
    author_name = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class StaffBuyerPanelSerializer(BuyerPanelSerializer):
    """The buyer panel with the shop's block of the buyer (SPEC I6), or null."""

    blocked = BuyerBlockSerializer(
        read_only=True, allow_null=True, help_text="The shop blocked this buyer (SPEC I6)."
    )
