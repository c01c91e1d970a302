"""Reads of the shop's data, always scoped by the caller's shop first (a missing and another
shop's external id both answer 404, SPEC A1), and the shapes the agent's buyer panel and the
cards in the chat show (SPEC E3-E5, I1).

The card shapes are TypedDicts: a card message stores one of them (``Message.card``, a snapshot
of the data as it was when sent), and the event catalogue's schema test knows every field."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, NotRequired, TypedDict

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.errors import NotFound
from apps.shopdata.models import AfterSale, Buyer, Order, OrderNote, OrderStatus, Product, Visit
from apps.shops.models import (
    AFTER_SALE_PLACEHOLDER,
    ORDER_PLACEHOLDER,
    ShopSettings,
    fill_url_template,
)

# SPEC E3: the orders that count as paid in the panel (API.md: paid_orders).
PAID_STATUSES = (
    OrderStatus.PAID,
    OrderStatus.SHIPPED,
    OrderStatus.COMPLETED,
    OrderStatus.AFTER_SALE,
)
VISITS_WINDOW = timedelta(hours=72)  # SPEC E3
PANEL_LIST_MAX = 20  # recent orders and after-sales in the panel: the newest first, capped


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# ---------------------------------------------------------------------------------------------
# Lookups by external id


def buyer_get(*, shop_id: int, external_id: str) -> Buyer:
    buyer = Buyer.objects.filter(shop_id=shop_id, external_id=external_id).first()
    if buyer is None:
        raise NotFound(_("No such buyer."))
    return buyer


def order_get(*, shop_id: int, external_id: str, field: str | None = None) -> Order:
    order = (
        Order.objects.filter(shop_id=shop_id, external_id=external_id)
        .select_related("buyer")
        .first()
    )
    if order is None:
        raise NotFound(_("No such order."), field=field)
    return order


def after_sale_get(*, shop_id: int, external_id: str, field: str | None = None) -> AfterSale:
    row = (
        AfterSale.objects.filter(shop_id=shop_id, external_id=external_id)
        .select_related("order")
        .first()
    )
    if row is None:
        raise NotFound(_("No such after-sales record."), field=field)
    return row


def product_get(*, shop_id: int, external_id: str, field: str | None = None) -> Product:
    product = Product.objects.filter(shop_id=shop_id, external_id=external_id).first()
    if product is None:
        raise NotFound(_("No such product."), field=field)
    return product


# ---------------------------------------------------------------------------------------------
# Shapes


class ItemData(TypedDict):
    product: str
    name: str
    quantity: int
    price: str | None


class AfterSaleRef(TypedDict):
    """An order's latest after-sales record, as its order card shows it."""

    external_id: str
    type: str
    status: str


class OrderCardData(TypedDict):
    """SPEC E4: the order card (sent into the chat; the panel's orders add their note)."""

    external_id: str
    status: str
    amount: str
    shipping_fee: str
    items: list[ItemData]
    paid_at: str | None
    created_at: str | None
    after_sale: AfterSaleRef | None
    url: str | None  # the order's page on the shop's site (``order_url_template``), or null


class AfterSaleCardData(TypedDict):
    """SPEC E5: every field of an after-sales record."""

    external_id: str
    order: str
    type: str
    status: str
    amount: str
    shipping_included: bool
    refund_method: str
    applied_at: str | None
    goods_received: bool | None
    reason: str
    description: str
    merchant_note: str
    items: list[ItemData]
    return_address: str
    return_tracking: str
    updated_at: str | None
    # The record's page on the shop's site (``after_sale_url_template``); on cards and in the
    # panel, not in the shop-data API's answer to the shop's own systems.
    url: NotRequired[str | None]


class ProductCardData(TypedDict):
    """SPEC I1: the product card."""

    external_id: str
    name: str
    category: str


CardData = OrderCardData | AfterSaleCardData | ProductCardData


class OrderNoteData(TypedDict):
    """SPEC E4: one note of an order's history (``author``: the account id, null once it is
    deleted; ``author_name``: its display name then)."""

    text: str
    flag: str
    author: int | None
    author_name: str
    created_at: str | None


class PanelOrderData(OrderCardData):
    note: OrderNoteData | None


class PanelBuyerData(TypedDict):
    external_id: str
    name: str
    channel: str
    segments: list[str]


class PanelProductData(TypedDict):
    external_id: str
    name: str
    category: str


class BuyerPanelData(TypedDict):
    """SPEC E3-E5, API.md ``GET /conversations/{id}/buyer/``."""

    buyer: PanelBuyerData
    entrance: str | None
    product: PanelProductData | None
    order: PanelOrderData | None
    paid_orders: int
    visits_72h: int
    recent_orders_days: int
    recent_orders: list[PanelOrderData]
    after_sales: list[AfterSaleCardData]


def _items(rows: Iterable[dict[str, Any]]) -> list[ItemData]:
    return [
        {
            "product": str(item.get("product") or ""),
            "name": str(item.get("name") or ""),
            "quantity": int(item.get("quantity") or 1),
            "price": None if item.get("price") is None else str(item["price"]),
        }
        for item in rows
    ]


def _money(value: Any) -> str:
    return f"{value:.2f}"


def note_data(note: OrderNote) -> OrderNoteData:
    author = note.author
    return {
        "text": note.text,
        "flag": note.flag,
        "author": note.author_id,
        "author_name": author.label if author is not None else "",
        "created_at": _iso(note.created_at),
    }


def after_sale_card(row: AfterSale, url_template: str | None = None) -> AfterSaleCardData:
    """SPEC E5; ``url_template``: the shop's ``after_sale_url_template`` (empty: a null link;
    None: no ``url`` at all, as the shop-data API answers)."""
    card: AfterSaleCardData = {
        "external_id": row.external_id,
        "order": row.order.external_id,
        "type": row.type,
        "status": row.status,
        "amount": _money(row.amount),
        "shipping_included": row.shipping_included,
        "refund_method": row.refund_method,
        "applied_at": _iso(row.applied_at),
        "goods_received": row.goods_received,
        "reason": row.reason,
        "description": row.description,
        "merchant_note": row.merchant_note,
        "items": _items(row.items),
        "return_address": row.return_address,
        "return_tracking": row.return_tracking,
        "updated_at": _iso(row.updated_at),
    }
    if url_template is not None:
        card["url"] = fill_url_template(url_template, AFTER_SALE_PLACEHOLDER, row.external_id)
    return card


def product_card(product: Product) -> ProductCardData:
    return {"external_id": product.external_id, "name": product.name, "category": product.category}


def _latest_per_order(rows: QuerySet[Any], order_ids: list[int]) -> dict[int, Any]:
    """The newest row of each order (PostgreSQL's DISTINCT ON), one query."""
    if not order_ids:
        return {}
    latest = rows.filter(order_id__in=order_ids).order_by("order_id", "-created_at", "-id")
    return {row.order_id: row for row in latest.distinct("order_id")}


def _latest_after_sales(order_ids: list[int]) -> dict[int, AfterSale]:
    if not order_ids:
        return {}
    latest = (
        AfterSale.objects.filter(order_id__in=order_ids)
        .order_by("order_id", "-updated_at", "-id")
        .distinct("order_id")
    )
    return {row.order_id: row for row in latest}


def _order_card(order: Order, after_sale: AfterSale | None, url_template: str) -> OrderCardData:
    return {
        "external_id": order.external_id,
        "status": order.status,
        "amount": _money(order.amount),
        "shipping_fee": _money(order.shipping_fee),
        "items": _items(order.items),
        "paid_at": _iso(order.paid_at),
        "created_at": _iso(order.created_at),
        "after_sale": (
            {
                "external_id": after_sale.external_id,
                "type": after_sale.type,
                "status": after_sale.status,
            }
            if after_sale is not None
            else None
        ),
        "url": fill_url_template(url_template, ORDER_PLACEHOLDER, order.external_id),
    }


def order_card(order: Order, url_template: str = "") -> OrderCardData:
    """SPEC E4: the order card, with the status of its latest after-sales record if any. The
    staff's note is not on it: the card goes to the buyer too. ``url_template``: the shop's
    ``order_url_template`` (empty: no link)."""
    return _order_card(order, _latest_after_sales([order.pk]).get(order.pk), url_template)


def panel_orders(orders: list[Order], url_template: str = "") -> list[PanelOrderData]:
    """Orders as the panel lists them: the card and the current note (three queries)."""
    ids = [o.pk for o in orders]
    notes = _latest_per_order(OrderNote.objects.select_related("author__shop"), ids)
    after_sales = _latest_after_sales(ids)
    return [
        {
            **_order_card(order, after_sales.get(order.pk), url_template),  # type: ignore[typeddict-item]
            "note": note_data(notes[order.pk]) if order.pk in notes else None,
        }
        for order in orders
    ]


def order_notes(order: Order) -> QuerySet[OrderNote]:
    """SPEC E4: the order's notes, newest (the current one) first."""
    return (
        OrderNote.objects.filter(shop_id=order.shop_id, order=order)
        .select_related("author__shop")
        .order_by("-created_at", "-id")
    )


def buyer_panel(
    *,
    buyer: Buyer,
    entrance: str | None,
    product: Product | None,
    order: Order | None,
    now: datetime | None = None,
) -> BuyerPanelData:
    """SPEC E3-E5: who the buyer is, where it came from, its paid orders, its visits of the last
    72 hours, its orders within the shop's recent-orders window (``recent_orders_days``; 0: no
    window) and its after-sales records, newest first (each list capped)."""
    now = now or timezone.now()
    shop_id = buyer.shop_id
    days, order_url, after_sale_url = ShopSettings.objects.values_list(
        "recent_orders_days", "order_url_template", "after_sale_url_template"
    ).get(shop_id=shop_id)
    orders = Order.objects.filter(shop_id=shop_id, buyer=buyer)
    recent = orders.order_by("-created_at", "-id")
    if days:
        recent = recent.filter(created_at__gte=now - timedelta(days=days))
    listed = list(recent[:PANEL_LIST_MAX])
    shown = panel_orders([*listed, *([order] if order is not None else [])], order_url)
    after_sales = (
        AfterSale.objects.filter(shop_id=shop_id, buyer=buyer)
        .select_related("order")
        .order_by("-updated_at", "-id")[:PANEL_LIST_MAX]
    )
    return {
        "buyer": {
            "external_id": buyer.external_id,
            "name": buyer.name,
            "channel": buyer.channel,
            "segments": list(buyer.segments),
        },
        "entrance": entrance or None,
        "product": product_card(product) if product is not None else None,
        "order": shown[-1] if order is not None else None,
        "paid_orders": orders.filter(status__in=PAID_STATUSES).count(),
        "visits_72h": Visit.objects.filter(
            shop_id=shop_id, buyer=buyer, at__gt=now - VISITS_WINDOW, at__lte=now
        ).count(),
        "recent_orders_days": days,
        "recent_orders": shown[: len(listed)],
        "after_sales": [after_sale_card(row, after_sale_url) for row in after_sales],
    }
