"""The shop's own data pushed by its systems (SPEC H2): buyers, products, orders."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.models import ShopOwned


class Buyer(ShopOwned):
    external_id = models.CharField(max_length=64)
    name = models.CharField(max_length=100, blank=True)
    segments = models.JSONField(default=list, blank=True)
    channel = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "external_id"], name="buyer_unique_external_id")
        ]

    def __str__(self) -> str:
        return self.name or self.external_id


class Product(ShopOwned):
    external_id = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "external_id"], name="product_unique_external_id"
            )
        ]

    def __str__(self) -> str:
        return self.name


class OrderStatus(models.TextChoices):
    UNPAID = "unpaid", _("Unpaid")
    PAID = "paid", _("Paid")
    SHIPPED = "shipped", _("Shipped")
    COMPLETED = "completed", _("Completed")
    AFTER_SALE = "after_sale", _("After-sale")


class Order(ShopOwned):
    external_id = models.CharField(max_length=64)
    buyer = models.ForeignKey(Buyer, on_delete=models.CASCADE, related_name="orders")
    status = models.CharField(max_length=16, choices=OrderStatus.choices)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    shipping_fee = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    items = models.JSONField(default=list, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "external_id"], name="order_unique_external_id")
        ]
        indexes = [models.Index(fields=["shop", "buyer", "-created_at"])]

    def __str__(self) -> str:
        return self.external_id
