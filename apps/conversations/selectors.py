"""Reads and access helpers for conversations; every lookup is scoped to the shop first."""

from __future__ import annotations

import functools
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from apps.accounts.models import Account
from apps.accounts.permissions import Perm, perms_of
from apps.conversations.models import Conversation, PrivateContact, State
from apps.core.errors import NotFound
from apps.core.prepared import Prepared
from apps.routing import engine
from apps.routing.queue import (
    QueueFigures,
    capacity_of,
    figures,
    present_capacity,
    queue_order,
)
from apps.routing.snapshot import Snapshot
from apps.shopdata.models import Order
from apps.shops.models import ShopSettings


def _perms(account: Account) -> frozenset[str]:
    """The account's permissions (A4, as ``has_perm`` answers them), read once: each
    ``has_perm`` of a sub-account is a query or two, and the agent socket's every message asks
    who may see its conversation."""
    if not account.is_active:
        return frozenset()
    return frozenset(perms_of(account))


def conversations_visible_to(
    account: Account, *, perms: frozenset[str] | None = None
) -> QuerySet[Conversation]:
    """SPEC E6: everything with ``view_all_history``, else the conversations it took part in
    (held now, or wrote in); the message pool to accounts that receive buyers, who claim from
    it by hand (B11); the live conversations (``active``) to ``view_monitor`` accounts, who may
    watch them (I3, amended; ``conversation_get`` also finds one they watch that left
    ``active``). ``perms``: the account's, when the caller has them (``_perms``)."""
    held = _perms(account) if perms is None else perms
    base = Conversation.objects.filter(shop_id=account.shop_id).select_related(
        "buyer", "product", "order", "rating"
    )
    if Perm.VIEW_ALL_HISTORY in held:
        return base
    took_part = Q(agent_id=account.pk) | Q(messages__agent_id=account.pk)
    if Perm.CHAT in held:
        took_part |= Q(state=State.POOLED)
    if Perm.VIEW_MONITOR in held:
        took_part |= Q(state=State.ACTIVE)
    return base.filter(took_part).distinct()


def conversation_get(*, account: Account, conversation_id: object) -> Conversation:
    """The conversation if ``account`` may see it; missing, foreign and hidden answer 404.

    Pooled conversations are visible to every agent with the chat permission (they claim them);
    a conversation a ``view_monitor`` account watches stays visible to it while it does, even
    once it left ``active`` (re-routed to the queue, say: watching ends when it closes).
    """
    try:
        pk = int(str(conversation_id))
    except ValueError:
        raise NotFound("No such conversation.") from None
    held = _perms(account)
    visible = conversations_visible_to(account, perms=held).filter(pk=pk).first()
    if visible is not None:
        return visible
    if Perm.VIEW_MONITOR in held:
        # A list of ids on the row, checked here rather than in SQL: the embedded mode's
        # SQLite has no arrays to look into (``IdArrayField``).
        watched = (
            Conversation.objects.filter(shop_id=account.shop_id, pk=pk)
            .select_related("buyer", "product", "order", "rating")
            .first()
        )
        if watched is not None and account.pk in watched.watcher_ids:
            return watched
    if Perm.CHAT in held:
        pooled = (
            Conversation.objects.filter(shop_id=account.shop_id, pk=pk, state=State.POOLED)
            .select_related("buyer", "product", "order")
            .first()
        )
        if pooled is not None:
            return pooled
    raise NotFound("No such conversation.")


def _orders_latest_first(shop_id: Any, buyer_id: Any) -> QuerySet[Order]:
    """The buyer's orders in the shop, latest first (B4); ids or ``OuterRef``s."""
    return Order.objects.filter(shop_id=shop_id, buyer_id=buyer_id).order_by("-created_at", "-id")


def latest_order_status(*, shop_id: int, buyer_id: int) -> str:
    """B4: the status of the buyer's latest order in the shop, ``none`` without one."""
    status = _orders_latest_first(shop_id, buyer_id).values_list("status", flat=True).first()
    return status or "none"


def _previous(shop_id: Any, buyer: Any) -> QuerySet[Conversation]:
    """The buyer's closed conversations that an agent held, latest first (B3); ids or
    ``OuterRef``s."""
    return (
        Conversation.objects.filter(shop_id=shop_id, buyer_id=buyer, state=State.CLOSED)
        .exclude(agent_id=None)
        .order_by("-closed_at", "-id")
    )


def with_routing_facts(conversations: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """``conversations`` with what ``routing_request`` needs of each buyer's history, read in
    the same query (subqueries): a locked routing pass then reads nothing per conversation."""
    buyer = OuterRef("buyer_id")
    shop = OuterRef("shop_id")
    previous = _previous(shop, buyer)
    orders = _orders_latest_first(shop, buyer)
    return conversations.annotate(
        routing_last_agent=Subquery(previous.values("agent_id")[:1]),
        routing_last_closed=Subquery(previous.values("closed_at")[:1]),
        routing_private=Exists(PrivateContact.objects.filter(shop_id=shop, buyer_id=buyer)),
        routing_order_status=Subquery(orders.values("status")[:1]),
    )


def routing_request(
    conversation: Conversation,
    *,
    reroute: bool = False,
    exclude_agent_id: int | None = None,
    candidate_ids: frozenset[int] | None = None,
    candidate_group_ids: frozenset[int] = frozenset(),
    transfer: bool = False,
    left_queue: bool = False,
) -> engine.Request:
    """The engine's view of a conversation: the buyer's context and history. Re-routing, a
    conversation is a private contact when it was assigned as one (B8). A conversation read
    ``with_routing_facts`` brings its history along; any other is read here (three queries)."""
    buyer = conversation.buyer
    facts = conversation.__dict__
    if "routing_private" in facts:
        last_agent_id = facts["routing_last_agent"]
        last_closed_at = facts["routing_last_closed"]
        private_contact = bool(facts["routing_private"])
        order_status = facts["routing_order_status"] or "none"
    else:
        previous = _previous(conversation.shop_id, buyer.pk).values("agent_id", "closed_at").first()
        last_agent_id = previous["agent_id"] if previous else None
        last_closed_at = previous["closed_at"] if previous else None
        private_contact = PrivateContact.objects.filter(
            shop_id=conversation.shop_id, buyer_id=buyer.pk
        ).exists()
        order_status = latest_order_status(shop_id=conversation.shop_id, buyer_id=buyer.pk)
    if reroute:
        private_contact = conversation.assign_reason == engine.Reason.PRIVATE_CONTACT
    product = conversation.product
    return engine.Request(
        segments=frozenset(buyer.segments),
        product=product.external_id if product else None,
        product_category=(product.category or None) if product else None,
        intent=conversation.intent or None,
        order_status=order_status,
        private_contact=private_contact,
        chosen_agent_id=conversation.chosen_agent_id,
        last_agent_id=last_agent_id,
        last_closed_at=last_closed_at,
        reroute=reroute,
        candidate_ids=candidate_ids,
        candidate_group_ids=candidate_group_ids,
        exclude_agent_id=exclude_agent_id,
        transfer=transfer,
        left_queue=left_queue,
    )


@functools.cache
def _waiting(queue_order_setting: str) -> Prepared[Conversation]:
    """The shop's queue in its order (C4) as (id, candidate ids): one compiled query per order."""
    order = queue_order(queue_order_setting)
    return Prepared(
        lambda shop_id: (
            Conversation.objects.filter(shop_id=shop_id, state=State.QUEUED)
            .order_by(*order)
            .values_list("pk", "candidate_ids")
        ),
        shop_id=int,
    )


def queue_figures_all(*, shop_id: int, snapshot: Snapshot | None = None) -> dict[int, QueueFigures]:
    """SPEC C5 for every waiting buyer of the shop (``apps.routing.queue``), in four queries;
    in one under the shop's lock, where the routing ``snapshot`` has the settings and agents."""
    settings = ShopSettings.objects.get(shop_id=shop_id) if snapshot is None else snapshot.settings
    rows = _waiting(settings.queue_order).rows(shop_id=shop_id)
    if not rows:
        return {}
    capacity = present_capacity(settings) if snapshot is None else capacity_of(snapshot.agents)
    return figures(rows, capacity, settings.avg_handling_seconds)


# The attribute where the queueing reply leaves the figures it told (``automatic.queueing``).
QUEUE_FIGURES = "_queue_figures"


def queue_figures(
    conversation: Conversation, snapshot: Snapshot | None = None
) -> QueueFigures | None:
    """SPEC C5 for one conversation; None unless it is queued. ``snapshot``: the caller's, under
    the shop's lock."""
    if conversation.state != State.QUEUED:
        return None
    return queue_figures_all(shop_id=conversation.shop_id, snapshot=snapshot).get(conversation.pk)


def queue_list(*, shop_id: int, group_id: int | None = None) -> list[Conversation]:
    """The waiting buyers in queue order; with ``group_id``, those that group may take."""
    order = ShopSettings.objects.values_list("queue_order", flat=True).get(shop_id=shop_id)
    rows = (
        Conversation.objects.filter(shop_id=shop_id, state=State.QUEUED)
        .select_related("buyer", "product", "order")
        .order_by(*queue_order(order))
    )
    if group_id is None:
        return list(rows)
    return [c for c in rows if c.candidate_ids is None or group_id in c.candidate_group_ids]
