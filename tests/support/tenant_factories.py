"""One factory per shop-owned model that a route's id can point to (see ``isolation``).

Each creates, in the given shop, objects as the shop's own code would (through the services), with
distinctive values, so that the isolation check can see a leak. Add one for every new model an
API route looks up by id; the isolation test fails and points here until you do."""

from __future__ import annotations

import itertools
import uuid
from decimal import Decimal

from django.utils import timezone

from apps.accounts.models import Account, AccountKind
from apps.accounts.permissions import Perm
from apps.backoffice import services as account_services
from apps.conversations import lifecycle as conversation_services
from apps.conversations.lifecycle import agent_set_status
from apps.conversations.models import (
    Attachment,
    Conversation,
    IntentRule,
    Message,
    MessageKind,
    PrivateContact,
    Sender,
)
from apps.integrations import keys as integration_keys
from apps.integrations import webhooks as integration_webhooks
from apps.integrations.models import ApiKey, Webhook, WebhookAttempt, WebhookDelivery
from apps.quickreplies.models import QuickReply
from apps.routing.models import AgentStatus, Group
from apps.safety import services as safety_services
from apps.safety.models import BuyerBlock, SensitiveWord
from apps.shopdata import services as shopdata_services
from apps.shopdata.models import AfterSale, Buyer, Order, OrderNote, Product, Visit, VisitSource
from apps.shops.models import Shop
from tests.support.isolation import register_tenant_factory

PROBE_PASSWORD = "probe-Passw0rd-of-the-other-shop"
_serial = itertools.count(1)


def main_account(shop: Shop) -> Account:
    return Account.objects.get(shop=shop, kind=AccountKind.MAIN)


@register_tenant_factory(Account)
def make_accounts(shop: Shop) -> list[Account]:
    """A sub-account with permissions, a routing state and a token, and the main account."""
    sub = account_services.account_create(
        actor=main_account(shop),
        name=f"isolation-target-{next(_serial)}",
        password=PROBE_PASSWORD,
        display_name=f"{shop.slug} private agent",
        permissions={Perm.CHAT, Perm.VIEW_ALL_HISTORY},
        weight=37,
    )
    account_services.token_for(sub)
    return [sub, main_account(shop)]


@register_tenant_factory(Group)
def make_group(shop: Shop) -> Group:
    return Group.objects.create(
        shop=shop,
        name=f"{shop.slug} private group {next(_serial)}",
        max_concurrent=7,
        scope_segments=["member:gold"],
    )


def make_buyer(shop: Shop, *, prefix: str = "isolation-buyer") -> Buyer:
    buyer, _created = shopdata_services.buyer_upsert(
        shop_id=shop.pk,
        external_id=f"{prefix}-{next(_serial)}",
        name=f"{shop.slug} private buyer",
        segments=["member:gold", "region:zhejiang"],
        channel="private-channel",
    )
    return buyer


@register_tenant_factory(Buyer)
def make_buyers(shop: Shop) -> Buyer:
    return make_buyer(shop)


@register_tenant_factory(Product)
def make_product(shop: Shop) -> Product:
    product, _created = shopdata_services.product_upsert(
        shop_id=shop.pk,
        external_id=f"isolation-product-{next(_serial)}",
        name=f"{shop.slug} private product",
        category="private-category",
    )
    return product


@register_tenant_factory(Order)
def make_order(shop: Shop) -> Order:
    order, _created = shopdata_services.order_upsert(
        shop_id=shop.pk,
        external_id=f"isolation-order-{next(_serial)}",
        buyer=make_buyer(shop).external_id,
        status="paid",
        amount=Decimal("123.45"),
        shipping_fee=Decimal("6.00"),
        items=[{"product": "p-1", "name": "private item name", "quantity": 1, "price": "117.45"}],
        paid_at=timezone.now(),
        created_at=timezone.now(),
    )
    return order


@register_tenant_factory(Conversation)
def make_conversations(shop: Shop) -> list[Conversation]:
    """An active conversation with messages on both sides (an agent of the shop is online), and
    a pooled one (claimable by any agent of that shop alone)."""
    settings = shop.settings
    settings.offline_handling = "pool"
    settings.pool_auto_assign = False
    settings.save(update_fields=["offline_handling", "pool_auto_assign"])
    # Nobody online yet: the first buyer's conversation goes to the message pool (B11).
    pooled = conversation_services.request_human(
        conversation=conversation_services.conversation_open(buyer=make_buyer(shop))
    )
    conversation_services.message_create(
        conversation=pooled, sender=Sender.BUYER, body="pooled private question"
    )
    agent = account_services.account_create(
        actor=main_account(shop),
        name=f"isolation-agent-{next(_serial)}",
        password=PROBE_PASSWORD,
        display_name=f"{shop.slug} private agent",
        permissions={Perm.CHAT},
    )
    agent_set_status(account=agent, status=AgentStatus.ONLINE)
    active = conversation_services.request_human(
        conversation=conversation_services.conversation_open(
            buyer=make_buyer(shop), entrance="product", intent="private-intent"
        )
    )
    assert active.state == "active" and active.agent_id == agent.pk, active.state
    conversation_services.message_create(
        conversation=active, sender=Sender.BUYER, body="my private address is here", client_id="c1"
    )
    conversation_services.agent_message_send(
        account=agent, conversation=active, body="private answer of the agent", client_id="a1"
    )
    return [active, pooled]


@register_tenant_factory(Message)
def make_messages(shop: Shop) -> list[Message]:
    """The buyer's and the agent's messages of an active conversation (recall routes)."""
    active = make_conversations(shop)[0]
    return list(Message.objects.filter(conversation=active, sender__in=["buyer", "agent"]))


@register_tenant_factory(Attachment)
def make_attachment(shop: Shop) -> Attachment:
    """An image message of the buyer (SPEC I1). Its row as the image service writes it, without
    files: the route answers 404 before it would open one."""
    active = make_conversations(shop)[0]
    message = conversation_services.message_create(
        conversation=active, sender=Sender.BUYER, body="[image]", kind=MessageKind.IMAGE
    )[0]
    return Attachment.objects.create(
        shop=shop,
        conversation=active,
        message=message,
        sender=Sender.BUYER,
        image=f"attachments/{shop.pk}/private-photo-of-the-other-shop.jpg",
        thumbnail=f"attachments/{shop.pk}/private-photo-of-the-other-shop-thumb.jpg",
        content_type="image/jpeg",
        size=1234,
        width=40,
        height=30,
    )


@register_tenant_factory(PrivateContact)
def make_private_contact(shop: Shop) -> PrivateContact:
    return PrivateContact.objects.create(shop=shop, buyer=make_buyer(shop, prefix="private-vip"))


@register_tenant_factory(IntentRule)
def make_intent_rule(shop: Shop) -> IntentRule:
    return IntentRule.objects.create(
        shop=shop,
        name=f"private intent {next(_serial)}",
        keywords=["private keyword", "secret refund"],
    )


@register_tenant_factory(QuickReply)
def make_quick_reply(shop: Shop) -> list[QuickReply]:
    """A shop-wide reply and an agent's personal one."""
    agent = make_accounts(shop)[0]
    return [
        QuickReply.objects.create(
            shop=shop, text=f"private shop reply {next(_serial)}", keywords=["secret word"]
        ),
        QuickReply.objects.create(
            shop=shop, owner=agent, text=f"private personal reply {next(_serial)}"
        ),
    ]


@register_tenant_factory(AfterSale)
def make_after_sale(shop: Shop) -> AfterSale:
    """An after-sales record of an order of the shop's buyer, every field filled (SPEC E5)."""
    order = make_order(shop)
    after_sale, _created = shopdata_services.after_sale_upsert(
        shop_id=shop.pk,
        external_id=f"isolation-after-sale-{next(_serial)}",
        fields=shopdata_services.AfterSaleFields(
            order=order.external_id,
            buyer=order.buyer.external_id,
            type="return_refund",
            status=f"{shop.slug} private status",
            amount=Decimal("117.45"),
            refund_method="private refund method",
            reason="private reason of the refund",
            description="private description of the buyer",
            merchant_note="private merchant note",
            items=[{"product": "p-1", "name": "private item name", "quantity": 1, "price": None}],
            return_address="private return address",
            return_tracking="private-tracking-0001",
        ),
    )
    return after_sale


@register_tenant_factory(OrderNote)
def make_order_note(shop: Shop) -> OrderNote:
    return shopdata_services.order_note_add(
        order=make_order(shop), author=main_account(shop), text="private note on the order"
    )


@register_tenant_factory(Visit)
def make_visit(shop: Shop) -> Visit:
    return shopdata_services.visit_record(
        buyer=make_buyer(shop), source=VisitSource.API, page="https://private.example/page"
    )


@register_tenant_factory(ApiKey)
def make_api_key(shop: Shop) -> ApiKey:
    return integration_keys.api_key_create(
        actor=main_account(shop), name=f"{shop.slug} private ERP key"
    ).api_key


@register_tenant_factory(Webhook)
def make_webhook(shop: Shop) -> Webhook:
    """A webhook (to a literal public address: no DNS) with a delivery and its attempt."""
    webhook = integration_webhooks.webhook_create(
        shop_id=shop.pk,
        actor=main_account(shop),
        url=f"https://93.184.215.14/{shop.slug}-private-hook",
        events=["conversation.closed"],
    ).webhook
    delivery = WebhookDelivery.objects.create(
        shop=shop,
        webhook=webhook,
        event_id=uuid.uuid4(),
        type="conversation.closed",
        body='{"private": "body of the other shop"}',
        state="failed",
        attempts=1,
        created_at=timezone.now(),
        finished_at=timezone.now(),
    )
    WebhookAttempt.objects.create(
        shop=shop,
        delivery=delivery,
        webhook=webhook,
        number=1,
        status_code=500,
        error="private error of the other shop",
        created_at=timezone.now(),
    )
    return webhook


@register_tenant_factory(SensitiveWord)
def make_sensitive_word(shop: Shop) -> SensitiveWord:
    """SPEC I6: a word of the shop's list."""
    return safety_services.sensitive_word_add(
        actor=main_account(shop), word=f"{shop.slug}-private-word-{next(_serial)}", action="block"
    )


@register_tenant_factory(BuyerBlock)
def make_buyer_block(shop: Shop) -> BuyerBlock:
    """SPEC I6: a blocked buyer of the shop (its external id names it in the route)."""
    block, _created = safety_services.buyer_block(
        actor=main_account(shop),
        external_id=f"isolation-blocked-{next(_serial)}",
        reason=f"{shop.slug} private block reason",
    )
    return block
