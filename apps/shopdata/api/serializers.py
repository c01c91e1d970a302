from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from apps.shopdata.models import Buyer, Order, OrderStatus, Product


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
