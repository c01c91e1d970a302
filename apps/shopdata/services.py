"""Idempotent upserts of the shop's own data by external id (SPEC H2); the buyer's visits and
the staff's order notes (SPEC E3, E4)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypedDict

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.errors import InvalidInput
from apps.shopdata.models import (
    ORDER_NOTE_MAX,
    AfterSale,
    AfterSaleType,
    Buyer,
    NoteFlag,
    Order,
    OrderNote,
    Product,
    Visit,
    VisitSource,
)

if TYPE_CHECKING:
    from apps.accounts.models import Account


def _external_id(value: str, field: str = "external_id") -> str:
    value = value.strip()
    if not value or len(value) > 64:
        raise InvalidInput(_("An external id has 1 to 64 characters."), field=field)
    if any(unicodedata.category(c) == "Cc" for c in value):  # PostgreSQL cannot store a NUL
        raise InvalidInput(_("An external id cannot hold control characters."), field=field)
    return value


@transaction.atomic
def buyer_identify(
    *, shop_id: int, external_id: str, name: str = "", field: str = "external_id"
) -> tuple[Buyer, bool]:
    """The shop's buyer with this external id, stored on first sight (a widget session, a
    private contact named before the shop pushed the buyer). Unlike ``buyer_upsert`` it changes
    nothing the shop's systems pushed: a name is only filled in where there is none. ``field``
    names the request field in errors."""
    external_id = _external_id(external_id, field)
    name = name.strip()
    buyer, created = Buyer.objects.get_or_create(
        shop_id=shop_id, external_id=external_id, defaults={"name": name}
    )
    if not created and name and not buyer.name:
        buyer.name = name
        buyer.save(update_fields=["name"])
    return buyer, created


@transaction.atomic
def buyer_upsert(
    *, shop_id: int, external_id: str, name: str = "", segments: list[str], channel: str = ""
) -> tuple[Buyer, bool]:
    return Buyer.objects.update_or_create(
        shop_id=shop_id,
        external_id=_external_id(external_id),
        defaults={
            "name": name.strip(),
            "segments": sorted({s.strip() for s in segments if s.strip()}),
            "channel": channel.strip(),
        },
    )


@transaction.atomic
def product_upsert(
    *, shop_id: int, external_id: str, name: str, category: str = ""
) -> tuple[Product, bool]:
    return Product.objects.update_or_create(
        shop_id=shop_id,
        external_id=_external_id(external_id),
        defaults={"name": name.strip(), "category": category.strip()},
    )


@transaction.atomic
def order_upsert(
    *,
    shop_id: int,
    external_id: str,
    buyer: str,
    status: str,
    amount: Decimal,
    shipping_fee: Decimal,
    items: list[dict[str, Any]],
    paid_at: Any,
    created_at: Any,
) -> tuple[Order, bool]:
    owner = Buyer.objects.filter(shop_id=shop_id, external_id=buyer).first()
    if owner is None:
        raise InvalidInput(_("Unknown buyer: push the buyer first."), field="buyer")
    return Order.objects.update_or_create(
        shop_id=shop_id,
        external_id=_external_id(external_id),
        defaults={
            "buyer": owner,
            "status": status,
            "amount": amount,
            "shipping_fee": shipping_fee,
            "items": [{**item, "price": str(item["price"])} for item in items],
            "paid_at": paid_at,
            "created_at": created_at,
        },
    )


# ---------------------------------------------------------------------------------------------
# After-sales, visits and order notes (SPEC E3-E5; API.md, after-sales, visits, order notes)

ITEMS_MAX = 100  # items of an after-sales record: a refund never names more
VISIT_PAGE_MAX = 500


class AfterSaleItem(TypedDict):
    product: str
    name: str
    quantity: int
    price: Decimal | None


@dataclass(frozen=True)
class AfterSaleFields:
    """What the shop pushes for an after-sales record (API.md): ``order``, ``buyer``, ``type``,
    ``status`` and ``amount`` are required; the others default to empty."""

    order: str
    buyer: str
    type: str
    status: str
    amount: Decimal
    shipping_included: bool = False
    refund_method: str = ""
    applied_at: datetime | None = None
    goods_received: bool | None = None
    reason: str = ""
    description: str = ""
    merchant_note: str = ""
    items: list[AfterSaleItem] = field(default_factory=list)
    return_address: str = ""
    return_tracking: str = ""


@transaction.atomic
def after_sale_upsert(
    *, shop_id: int, external_id: str, fields: AfterSaleFields
) -> tuple[AfterSale, bool]:
    """SPEC E5, H2: the after-sales record with this external id, created or replaced by what the
    shop pushed. Its order and buyer are the shop's, and the order is the buyer's: anything else
    is refused with the field named, and nothing is written."""
    external_id = _external_id(external_id)
    if fields.type not in AfterSaleType.values:
        raise InvalidInput(_("Choose refund_only or return_refund."), field="type")
    if not fields.status.strip():
        raise InvalidInput(_("The status cannot be empty."), field="status")
    if len(fields.items) > ITEMS_MAX:
        raise InvalidInput(
            _("An after-sales record has at most %(n)d items.") % {"n": ITEMS_MAX}, field="items"
        )
    owner = Buyer.objects.filter(shop_id=shop_id, external_id=fields.buyer.strip()).first()
    if owner is None:
        raise InvalidInput(_("Unknown buyer: push the buyer first."), field="buyer")
    order = Order.objects.filter(shop_id=shop_id, external_id=fields.order.strip()).first()
    if order is None:
        raise InvalidInput(_("Unknown order: push the order first."), field="order")
    if order.buyer_id != owner.pk:
        raise InvalidInput(_("This order belongs to another buyer."), field="order")
    return AfterSale.objects.update_or_create(
        shop_id=shop_id,
        external_id=external_id,
        defaults={
            "order": order,
            "buyer": owner,
            "type": fields.type,
            "status": fields.status.strip(),
            "amount": fields.amount,
            "shipping_included": fields.shipping_included,
            "refund_method": fields.refund_method.strip(),
            "applied_at": fields.applied_at,
            "goods_received": fields.goods_received,
            "reason": fields.reason.strip(),
            "description": fields.description.strip(),
            "merchant_note": fields.merchant_note.strip(),
            "items": [
                {
                    "product": item.get("product", ""),
                    "name": item["name"],
                    "quantity": item.get("quantity", 1),
                    "price": None if item.get("price") is None else str(item["price"]),
                }
                for item in fields.items
            ],
            "return_address": fields.return_address.strip(),
            "return_tracking": fields.return_tracking.strip(),
        },
    )


def visit_record(
    *, buyer: Buyer, source: VisitSource, at: datetime | None = None, page: str = ""
) -> Visit:
    """SPEC E3: one visit of the buyer (the panel counts those of the last 72 hours)."""
    page = page.strip()
    if len(page) > VISIT_PAGE_MAX:
        raise InvalidInput(
            _("A page has at most %(n)d characters.") % {"n": VISIT_PAGE_MAX}, field="page"
        )
    return Visit.objects.create(
        shop_id=buyer.shop_id, buyer=buyer, at=at or timezone.now(), page=page, source=source
    )


def order_note_add(
    *, order: Order, author: Account | None, text: str, flag: str = NoteFlag.GREY
) -> OrderNote:
    """SPEC E4: a new current note on the order (the older ones stay as its history)."""
    text = text.strip()
    if not text:
        raise InvalidInput(_("A note cannot be empty."), field="text")
    if len(text) > ORDER_NOTE_MAX:
        raise InvalidInput(
            _("A note has at most %(n)d characters (this one has %(count)d).")
            % {"n": ORDER_NOTE_MAX, "count": len(text)},
            field="text",
        )
    if flag not in NoteFlag.values:
        raise InvalidInput(
            _("Choose a flag among: %(flags)s.") % {"flags": ", ".join(NoteFlag.values)},
            field="flag",
        )
    return OrderNote.objects.create(
        shop_id=order.shop_id, order=order, author=author, text=text, flag=flag
    )
