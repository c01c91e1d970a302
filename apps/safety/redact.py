"""The shapes of the shop's data as staff without ``view_buyer_info`` receive them (SPEC I6):
the buyer panel and the cards, their phone numbers and addresses masked (``apps.safety.pii``).
Copies: the data passed in is left as it is. Order cards carry no free text nor address today
(items, amounts, status), so they pass unchanged; an after-sales record's return address is
masked as an address field and its texts (reason, description, the merchant's note) as free
text; the panel's buyer name and order notes as free text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from apps.safety.pii import mask_address_field, mask_text
from apps.shopdata.selectors import AfterSaleCardData, BuyerPanelData, PanelOrderData

AFTER_SALE_TEXTS = ("reason", "description", "merchant_note")


def after_sale_card(card: AfterSaleCardData) -> AfterSaleCardData:
    masked = cast(AfterSaleCardData, dict(card))
    masked["return_address"] = mask_address_field(card["return_address"])
    for field in AFTER_SALE_TEXTS:
        masked[field] = mask_text(card[field])  # type: ignore[literal-required]
    return masked


def card(data: Mapping[str, Any] | None, kind: str) -> Any:
    """A message's card (``Message.card``) of ``kind`` (``MessageKind``'s value)."""
    if data is None or kind != "after_sale_card":
        return data
    return after_sale_card(cast(AfterSaleCardData, data))


def _panel_order(order: PanelOrderData) -> PanelOrderData:
    if order.get("note") is None:
        return order
    masked = cast(PanelOrderData, dict(order))
    note = order["note"]
    assert note is not None
    masked["note"] = {**note, "text": mask_text(note["text"])}
    return masked


def buyer_panel(panel: BuyerPanelData) -> BuyerPanelData:
    masked = cast(BuyerPanelData, dict(panel))
    masked["buyer"] = {**panel["buyer"], "name": mask_text(panel["buyer"]["name"])}
    masked["order"] = _panel_order(panel["order"]) if panel["order"] is not None else None
    masked["recent_orders"] = [_panel_order(o) for o in panel["recent_orders"]]
    masked["after_sales"] = [after_sale_card(a) for a in panel["after_sales"]]
    return masked
