"""Buyer identity for the widget (API.md, buyer widget; SPEC F, H3): the signed session start
and the token that names the buyer, its shop and its entrance on every later call and socket."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.core import signing
from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils.translation import gettext as _

from apps.conversations.models import OPEN_STATES, Conversation
from apps.core.errors import Forbidden, InvalidInput
from apps.core.prepared import Prepared
from apps.routing.models import AgentState
from apps.safety.models import BuyerBlock
from apps.shopdata.models import Buyer, Order, Product, VisitSource
from apps.shopdata.services import buyer_identify, visit_record
from apps.shops.models import ShopSettings

TOKEN_SALT = "helpdesk.widget"
ANONYMOUS_PREFIX = "anon:"
EXTERNAL_ID_MAX = 64  # Buyer.external_id
TOKEN_MAX_AGE = 7 * 24 * 3600


@dataclass(frozen=True)
class BuyerPrincipal:
    """``request.user`` on widget views: a buyer of one shop, with the entrance it came from."""

    buyer: Buyer
    entrance: str
    product_id: int | None
    order_id: int | None
    # The buyer's open conversation when the token was read (a hint for the request that read
    # it, which need not look again for a new buyer: ``conversation_open(open_id=...)``).
    open_conversation_id: int | None = None
    # SPEC I6: the shop blocked this buyer (read with the token, no query of its own): every
    # widget request is refused with 403 and the socket's handshake too.
    blocked: bool = False

    is_authenticated = True
    is_active = True

    @property
    def shop_id(self) -> int:
        return self.buyer.shop_id


def buyer_token(buyer: Buyer, entrance: str, product: Product | None, order: Order | None) -> str:
    return signing.dumps(
        {
            "s": buyer.shop_id,
            "b": buyer.pk,
            "e": entrance,
            "p": product.pk if product else None,
            "o": order.pk if order else None,
        },
        salt=TOKEN_SALT,
    )


# Every widget request and buyer socket reads its buyer, with the shop's settings (a new
# conversation's greeting needs them), the id of its open conversation, if any (so that the
# widget's first request need not look for one again) and whether the shop blocked it (SPEC
# I6): compiled once (apps.core.prepared).
_BUYER: Prepared[Buyer] = Prepared(
    lambda pk, shop_id: (
        Buyer.objects.filter(pk=pk, shop_id=shop_id)
        .select_related("shop__settings")
        .annotate(
            open_conversation_id=Subquery(
                Conversation.objects.filter(
                    shop_id=OuterRef("shop_id"), buyer_id=OuterRef("pk"), state__in=OPEN_STATES
                )
                .order_by("pk")
                .values("pk")[:1]
            ),
            blocked=Exists(
                BuyerBlock.objects.filter(
                    shop_id=OuterRef("shop_id"), external_id=OuterRef("external_id")
                )
            ),
        )[:1]
    ),
    pk=int,
    shop_id=int,
)


def principal_for_token(token: str) -> BuyerPrincipal | None:
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    buyer = _BUYER.first(pk=data["b"], shop_id=data["s"])
    if buyer is None:
        return None
    open_id: int | None = buyer.open_conversation_id  # type: ignore[attr-defined]
    blocked: bool = buyer.blocked  # type: ignore[attr-defined]
    return BuyerPrincipal(buyer, data["e"], data["p"], data["o"], open_id, blocked)


def blocked_error() -> Forbidden:
    """SPEC I6: what a blocked buyer is told (403; the widget shows it)."""
    return Forbidden(_("This shop's customer service is not available to you."))


def principal_context(
    principal: BuyerPrincipal, *, chosen_agent_id: int | None = None
) -> tuple[Product | None, Order | None]:
    """The product and order of the page the buyer came from (F1), read within its shop; and,
    when the buyer chose an agent (B7), a check that the agent is of this shop, before anything
    is stored (bad input changes nothing, SPEC N)."""
    shop_id = principal.shop_id
    if (
        chosen_agent_id is not None
        and not AgentState.objects.filter(shop_id=shop_id, account_id=chosen_agent_id).exists()
    ):
        raise InvalidInput(_("No such agent."), field="agent")
    product = order = None
    if principal.product_id is not None:
        product = Product.objects.filter(shop_id=shop_id, pk=principal.product_id).first()
    if principal.order_id is not None:
        order = Order.objects.filter(shop_id=shop_id, pk=principal.order_id).first()
    return product, order


def buyer_signature(secret: str, buyer_id: str) -> str:
    """H3: hex HMAC-SHA256 of the UTF-8 buyer id, keyed with the UTF-8 widget secret (what a
    shop's server computes; the demo page and the widget preview play that server)."""
    return hmac.new(secret.encode(), buyer_id.encode(), hashlib.sha256).hexdigest()


def signature_valid(secret: str, buyer_id: str, signature: str) -> bool:
    # Bytes: ``compare_digest`` refuses non-ASCII text with a TypeError (issue 12).
    given = signature.strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(buyer_signature(secret, buyer_id).encode(), given)


@dataclass(frozen=True)
class WidgetSession:
    token: str
    buyer: Buyer
    settings: ShopSettings


@transaction.atomic
def widget_session_start(
    *,
    shop: str,
    entrance: str,
    name: str = "",
    buyer_id: str = "",
    signature: str = "",
    product: str = "",
    order: str = "",
) -> WidgetSession:
    """H3: a signed buyer id maps onto the shop's buyer; an unsigned visitor (when the shop
    allows anonymous buyers) gets an ``anon:`` id of its own. The context is checked before the
    buyer is stored: a refused session stores nothing."""
    settings = ShopSettings.objects.select_related("shop").filter(shop__slug=shop).first()
    if settings is None:
        raise InvalidInput(_("Unknown shop."), field="shop")
    if not settings.system_enabled:
        raise Forbidden(_("Customer service is not available in this shop right now."))
    if entrance not in settings.entrances:
        raise Forbidden(_("Customer service is not offered on this page."))
    shop_id = settings.shop_id
    buyer_id = buyer_id.strip()
    if buyer_id and signature:
        if not signature_valid(settings.widget_secret, buyer_id, signature):
            raise InvalidInput(_("The signature does not match the buyer id."), field="signature")
        external_id = buyer_id
    elif settings.allow_anonymous_buyers:
        # Unsigned visitors never map onto a real buyer's record.
        if len(ANONYMOUS_PREFIX + buyer_id) > EXTERNAL_ID_MAX:
            raise InvalidInput(
                _("An anonymous visitor id has at most %(n)d characters.")
                % {"n": EXTERNAL_ID_MAX - len(ANONYMOUS_PREFIX)},
                field="buyer_id",
            )
        external_id = ANONYMOUS_PREFIX + (buyer_id or secrets.token_hex(8))
    else:
        raise InvalidInput(_("A signature is required."), field="signature")
    product_row = order_row = None
    if product:
        product_row = Product.objects.filter(shop_id=shop_id, external_id=product).first()
        if product_row is None:
            raise InvalidInput(_("Unknown product."), field="product")
    if order:
        order_row = Order.objects.filter(
            shop_id=shop_id, external_id=order, buyer__external_id=external_id
        ).first()
        if order_row is None:
            raise InvalidInput(_("Unknown order."), field="order")
    if BuyerBlock.objects.filter(shop_id=shop_id, external_id=external_id).exists():
        raise blocked_error()  # SPEC I6: before anything is stored
    buyer, _created = buyer_identify(
        shop_id=shop_id, external_id=external_id, name=name, field="buyer_id"
    )
    # SPEC E3: a session start counts as a visit (the page: the entrance and what it shows).
    visit_record(
        buyer=buyer,
        source=VisitSource.WIDGET,
        page=":".join(part for part in (entrance, product or order) if part),
    )
    token = buyer_token(buyer, entrance, product_row, order_row)
    return WidgetSession(token, buyer, settings)
