"""Idempotent upserts of the shop's own data by external id (SPEC H2)."""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from apps.core.errors import InvalidInput
from apps.shopdata.models import Buyer, Order, Product


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
