"""The shop's own data pushed by its systems (SPEC H2): buyers, products, orders, after-sales
and visits; and the staff's notes on orders (SPEC E3-E5)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
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


class AfterSaleType(models.TextChoices):
    REFUND_ONLY = "refund_only", _("Refund only")
    RETURN_REFUND = "return_refund", _("Return and refund")


class AfterSale(ShopOwned):
    """SPEC E5: an after-sales record of an order, pushed by the shop's systems by external id.
    ``status`` is the shop's own text (its systems name their own stages)."""

    external_id = models.CharField(max_length=64)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="after_sales")
    buyer = models.ForeignKey(Buyer, on_delete=models.CASCADE, related_name="after_sales")
    type = models.CharField(max_length=16, choices=AfterSaleType.choices)
    status = models.CharField(max_length=64)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    shipping_included = models.BooleanField(default=False)
    refund_method = models.CharField(max_length=64, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    goods_received = models.BooleanField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    merchant_note = models.TextField(blank=True)
    items = models.JSONField(default=list, blank=True)
    return_address = models.TextField(blank=True)
    return_tracking = models.CharField(max_length=100, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "external_id"], name="after_sale_unique_external_id"
            )
        ]
        indexes = [models.Index(fields=["shop", "buyer", "-updated_at"])]

    def __str__(self) -> str:
        return self.external_id


class VisitSource(models.TextChoices):
    WIDGET = "widget", _("Widget session")
    API = "api", _("Pushed by the shop")


class Visit(ShopOwned):
    """SPEC E3: a buyer's visit (pushed by the shop's systems, or a widget session start)."""

    buyer = models.ForeignKey(Buyer, on_delete=models.CASCADE, related_name="visits")
    at = models.DateTimeField()
    page = models.CharField(max_length=500, blank=True)
    source = models.CharField(max_length=8, choices=VisitSource.choices)

    class Meta:
        indexes = [models.Index(fields=["shop", "buyer", "-at"])]

    def __str__(self) -> str:
        return f"visit {self.pk} of {self.buyer_id}"


class NoteFlag(models.TextChoices):
    GREY = "grey", _("Grey")
    RED = "red", _("Red")
    YELLOW = "yellow", _("Yellow")
    GREEN = "green", _("Green")
    BLUE = "blue", _("Blue")
    PURPLE = "purple", _("Purple")


ORDER_NOTE_MAX = 60  # SPEC E4


class OrderNote(ShopOwned):
    """SPEC E4: the notes of an order, shared by the shop's staff; the newest is the current
    note, the others its history (rows are only added, never changed)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="notes")
    text = models.CharField(max_length=ORDER_NOTE_MAX)
    flag = models.CharField(max_length=8, choices=NoteFlag.choices, default=NoteFlag.GREY)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["order", "-created_at", "-id"], name="order_note_latest")]

    def __str__(self) -> str:
        return self.text
