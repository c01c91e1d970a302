"""Cards in the chat (SPEC E4, E5, I1): the holding agent sends an order, after-sales or
product card, a message of that kind whose ``card`` holds the data as it was when sent.

The message is stored through the lifecycle's ``message_create``, like any message: it gets the
next ``seq`` and reaches the buyer and the agent as ``message.created``. Whether the caller may
send the after-sales card (``handle_after_sales``) is the entry point's check."""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext as _

from apps.accounts.models import Account
from apps.conversations import lifecycle
from apps.conversations.models import Conversation, Message, MessageKind, Sender
from apps.core.errors import Conflict, InvalidInput
from apps.shopdata import selectors as shopdata
from apps.shopdata.selectors import CardData
from apps.shops.models import ShopSettings

CARD_KINDS = (MessageKind.ORDER_CARD, MessageKind.AFTER_SALE_CARD, MessageKind.PRODUCT_CARD)


def _card(
    conversation: Conversation, kind: MessageKind, ref: str, settings: ShopSettings
) -> tuple[CardData, str]:
    """The card's data, read in the conversation's shop (another shop's ref: 404), and what the
    message's text names. Orders and after-sales records must be the conversation's buyer's
    (400: never send one buyer's order to another). Their cards link to the shop's own page
    of the record when the shop set a link template (seed 002, 查看详情)."""
    shop_id = conversation.shop_id
    if kind == MessageKind.PRODUCT_CARD:
        product = shopdata.product_get(shop_id=shop_id, external_id=ref, field="ref")
        return shopdata.product_card(product), product.name
    if kind == MessageKind.ORDER_CARD:
        order = shopdata.order_get(shop_id=shop_id, external_id=ref, field="ref")
        if order.buyer_id != conversation.buyer_id:
            raise InvalidInput(_("This order is not this buyer's."), field="ref")
        return shopdata.order_card(order, settings.order_url_template), order.external_id
    after_sale = shopdata.after_sale_get(shop_id=shop_id, external_id=ref, field="ref")
    if after_sale.buyer_id != conversation.buyer_id:
        raise InvalidInput(_("This after-sales record is not this buyer's."), field="ref")
    card = shopdata.after_sale_card(after_sale, settings.after_sale_url_template)
    return card, after_sale.external_id


def _text(kind: MessageKind, name: str) -> str:
    """The message's text, for clients that show no cards."""
    if kind == MessageKind.PRODUCT_CARD:
        return _("Product: %(name)s") % {"name": name}
    if kind == MessageKind.ORDER_CARD:
        return _("Order %(number)s") % {"number": name}
    return _("After-sales request %(number)s") % {"number": name}


def card_send(
    *, account: Account, conversation: Conversation, kind: MessageKind, ref: str
) -> Message:
    """SPEC E4, E5, I1: the conversation's current agent sends a card into the chat."""
    if kind not in CARD_KINDS:
        raise InvalidInput(_("Not a kind of card."), field="kind")
    if not lifecycle.agent_may_write(account=account, conversation=conversation):
        raise Conflict(_("You do not hold this conversation."))
    # The text is the buyer's to read: in the shop's language, as the other texts they get.
    settings = ShopSettings.objects.only(
        "language", "order_url_template", "after_sale_url_template"
    ).get(shop_id=conversation.shop_id)
    data, name = _card(conversation, kind, ref.strip(), settings)
    with translation.override(settings.language):
        text = _text(kind, name)
    message, _created = lifecycle.message_create(
        conversation=conversation,
        sender=Sender.AGENT,
        body=text,
        agent=account,
        kind=kind,
        card=data,
    )
    return message
