from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from apps.shopdata import services
from apps.shopdata.models import (
    ORDER_NOTE_MAX,
    AfterSaleType,
    Buyer,
    NoteFlag,
    Order,
    OrderStatus,
    Product,
    VisitSource,
)


class BuyerUpsertSerializer(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField(max_length=100, allow_blank=True, default="")
    segments = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, default=list
    )
    channel = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")


class ProductUpsertSerializer(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField(max_length=200)
    category = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class OrderItemSerializer(serializers.Serializer[dict[str, Any]]):
    product = serializers.CharField(max_length=64, required=False, allow_blank=True)
    name = serializers.CharField(max_length=200)
    quantity = serializers.IntegerField(min_value=1, default=1)
    price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal(0))


class OrderUpsertSerializer(serializers.Serializer[dict[str, Any]]):
    buyer = serializers.CharField(max_length=64, help_text="The buyer's external id.")
    status = serializers.ChoiceField(OrderStatus.choices)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal(0))
    shipping_fee = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal(0), default=Decimal(0)
    )
    items = OrderItemSerializer(many=True, required=False, default=list)
    paid_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    created_at = serializers.DateTimeField()


class BuyerSerializer(serializers.ModelSerializer[Buyer]):
    class Meta:
        model = Buyer
        fields = ["external_id", "name", "segments", "channel"]
        read_only_fields = fields

    segments = serializers.ListField(child=serializers.CharField(), read_only=True)


class ProductSerializer(serializers.ModelSerializer[Product]):
    class Meta:
        model = Product
        fields = ["external_id", "name", "category"]
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer[Order]):
    buyer = serializers.CharField(
        source="buyer.external_id", read_only=True, help_text="The buyer's external id."
    )
    items = OrderItemSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = [
            "external_id",
            "buyer",
            "status",
            "amount",
            "shipping_fee",
            "items",
            "paid_at",
            "created_at",
        ]
        read_only_fields = fields


# After-sales, visits, order notes (SPEC E3-E5; API.md, integration keys ... after-sales)


class AfterSaleItemSerializer(serializers.Serializer[dict[str, Any]]):
    product = serializers.CharField(
        max_length=64, required=False, allow_blank=True, default="", help_text="External id."
    )
    name = serializers.CharField(max_length=200)
    quantity = serializers.IntegerField(min_value=1, default=1)
    price = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal(0), required=False, allow_null=True
    )


class AfterSaleUpsertSerializer(serializers.Serializer[dict[str, Any]]):
    order = serializers.CharField(max_length=64, help_text="The order's external id.")
    buyer = serializers.CharField(max_length=64, help_text="The buyer's external id.")
    type = serializers.ChoiceField(AfterSaleType.choices)
    status = serializers.CharField(max_length=64, help_text="The shop's own status text.")
    amount = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal(0),
        help_text="The refund, 2 decimals (SPEC E5).",
    )
    shipping_included = serializers.BooleanField(
        required=False, default=False, help_text="Whether the amount includes shipping."
    )
    refund_method = serializers.CharField(
        max_length=64, required=False, allow_blank=True, default=""
    )
    applied_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    goods_received = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="Null when not known."
    )
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    description = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default=""
    )
    merchant_note = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        default="",
        help_text="The merchant's latest note.",
    )
    items = AfterSaleItemSerializer(  # type: ignore[call-arg]  # DRF's ListSerializer takes it
        many=True, required=False, default=list, max_length=services.ITEMS_MAX
    )
    return_address = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text="Filled once the return is approved.",
    )
    return_tracking = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="Filled once the buyer has sent the goods back.",
    )


class CardItemSerializer(serializers.Serializer[dict[str, Any]]):
    product = serializers.CharField(read_only=True, help_text="External id, may be empty.")
    name = serializers.CharField(read_only=True)
    quantity = serializers.IntegerField(read_only=True)
    price = serializers.DecimalField(
        max_digits=12, decimal_places=2, read_only=True, allow_null=True
    )


class AfterSaleSerializer(serializers.Serializer[dict[str, Any]]):
    """An after-sales record with every field (SPEC E5; the after-sales card holds the same)."""

    external_id = serializers.CharField(read_only=True)
    order = serializers.CharField(read_only=True, help_text="The order's external id.")
    type = serializers.ChoiceField(AfterSaleType.choices, read_only=True)
    status = serializers.CharField(read_only=True)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)
    shipping_included = serializers.BooleanField(read_only=True)
    refund_method = serializers.CharField(read_only=True)
    applied_at = serializers.DateTimeField(read_only=True, allow_null=True)
    goods_received = serializers.BooleanField(read_only=True, allow_null=True)
    reason = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    merchant_note = serializers.CharField(read_only=True)
    items = CardItemSerializer(many=True, read_only=True)
    return_address = serializers.CharField(read_only=True)
    return_tracking = serializers.CharField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class AfterSaleRefSerializer(serializers.Serializer[dict[str, Any]]):
    external_id = serializers.CharField(read_only=True)
    type = serializers.ChoiceField(AfterSaleType.choices, read_only=True)
    status = serializers.CharField(read_only=True)


class OrderCardSerializer(serializers.Serializer[dict[str, Any]]):
    """An order card (SPEC E4), with its latest after-sales record's status."""

    external_id = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(OrderStatus.choices, read_only=True)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)
    shipping_fee = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)
    items = CardItemSerializer(many=True, read_only=True)
    paid_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    after_sale = AfterSaleRefSerializer(read_only=True, allow_null=True)


class ProductCardSerializer(serializers.Serializer[dict[str, Any]]):
    external_id = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    category = serializers.CharField(read_only=True)


class VisitCreateSerializer(serializers.Serializer[dict[str, Any]]):
    at = serializers.DateTimeField(required=False, default=None, help_text="Default: now.")
    page = serializers.CharField(
        max_length=services.VISIT_PAGE_MAX,
        required=False,
        allow_blank=True,
        default="",
        help_text="The page visited (a URL or the shop's own name for it).",
    )


class VisitSerializer(serializers.Serializer[dict[str, Any]]):
    buyer = serializers.CharField(read_only=True, help_text="The buyer's external id.")
    at = serializers.DateTimeField(read_only=True)
    page = serializers.CharField(read_only=True)
    # The metaclass takes declared fields off the class: no clash with Field.source at runtime.
    source = serializers.ChoiceField(VisitSource.choices, read_only=True)  # type: ignore[assignment]


class OrderNoteCreateSerializer(serializers.Serializer[dict[str, Any]]):
    text = serializers.CharField(max_length=ORDER_NOTE_MAX, help_text="1 to 60 characters.")
    flag = serializers.ChoiceField(NoteFlag.choices, default=NoteFlag.GREY)


class OrderNoteSerializer(serializers.Serializer[dict[str, Any]]):
    text = serializers.CharField(read_only=True)
    flag = serializers.ChoiceField(NoteFlag.choices, read_only=True)
    author = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="The account id; null once it is deleted."
    )
    author_name = serializers.CharField(read_only=True, help_text="The author's display name.")
    created_at = serializers.DateTimeField(read_only=True)


class PanelOrderSerializer(OrderCardSerializer):
    note = OrderNoteSerializer(read_only=True, allow_null=True, help_text="The current note.")


class PanelBuyerSerializer(serializers.Serializer[dict[str, Any]]):
    external_id = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    channel = serializers.CharField(read_only=True)
    segments = serializers.ListField(child=serializers.CharField(), read_only=True)


class BuyerPanelSerializer(serializers.Serializer[dict[str, Any]]):
    """The agent's buyer panel (SPEC E3-E5; apps.shopdata.selectors.buyer_panel)."""

    buyer = PanelBuyerSerializer(read_only=True)
    entrance = serializers.ChoiceField(
        ["product", "order", "member"], read_only=True, allow_null=True
    )
    product = ProductCardSerializer(
        read_only=True, allow_null=True, help_text="The product of the page the buyer came from."
    )
    order = PanelOrderSerializer(
        read_only=True, allow_null=True, help_text="The order of the page the buyer came from."
    )
    paid_orders = serializers.IntegerField(
        read_only=True, help_text="Orders paid, shipped, completed or in after-sales."
    )
    visits_72h = serializers.IntegerField(
        read_only=True, help_text="Visits in the last 72 hours (widget sessions included)."
    )
    recent_orders_days = serializers.IntegerField(
        read_only=True, help_text="The shop's window for recent orders, in days (0: none)."
    )
    recent_orders = PanelOrderSerializer(many=True, read_only=True, help_text="Newest first.")
    after_sales = AfterSaleSerializer(many=True, read_only=True, help_text="Newest first.")
