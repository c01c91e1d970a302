"""Routing transitions against buyer messages in another connection (SPEC N: nothing lost).

Messages take the conversation's row lock, not the shop's routing lock, so the routing services
must lock the rows they rewrite and take row locks before event counters. Each test lets a
second connection write at the worst moment of a routing transaction, deterministically.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection

from apps.accounts.models import Account
from apps.accounts.permissions import Perm
from apps.backoffice import services as account_services
from apps.conversations import lifecycle as conv
from apps.conversations import lifecycle as routing
from apps.conversations.lifecycle import agents
from apps.conversations.models import Conversation, Message, Sender, State
from apps.routing import engine
from apps.routing.models import AgentStatus
from apps.shopdata.models import Buyer
from conftest import PASSWORD, ShopKit, make_shop

pytestmark = pytest.mark.slow


def _agent(kit: ShopKit, name: str, maximum: int) -> Account:
    account = account_services.account_create(
        actor=kit.main,
        name=name,
        password=PASSWORD,
        permissions={Perm.CHAT},
        max_concurrent=maximum,
    )
    routing.agent_set_status(account=account, status=AgentStatus.ONLINE)
    return account


def _ask(kit: ShopKit, external_id: str) -> Conversation:
    buyer = Buyer.objects.create(shop=kit.shop, external_id=external_id)
    return conv.request_human(conversation=conv.conversation_open(buyer=buyer))


class Writer(threading.Thread):
    """A buyer writing in ``conversation`` from its own database connection."""

    def __init__(self, conversation_id: int) -> None:
        super().__init__(daemon=True)
        self.conversation_id = conversation_id
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            c = Conversation.objects.get(pk=self.conversation_id)
            conv.message_create(conversation=c, sender=Sender.BUYER, body="are you there?")
        except BaseException as error:  # reported by the test
            self.error = error
        finally:
            connection.close()


def _seqs_consistent(c: Conversation) -> bool:
    seqs = list(Message.objects.filter(conversation=c).values_list("seq", flat=True))
    return seqs == list(range(1, len(seqs) + 1)) and c.last_seq == len(seqs)


def test_message_written_while_dispatch_hands_out_the_conversation_is_kept(
    transactional_db, fast_password_hasher, monkeypatch
):
    # given an agent at max and a buyer waiting
    kit = make_shop("locks-a")
    _agent(kit, "a", 1)
    first = _ask(kit, "b1")
    waiting = _ask(kit, "b2")
    assert waiting.state == State.QUEUED
    # when the waiting buyer writes just after dispatch has read the queue (and committed)
    real = engine.dispatch
    calls: list[int] = []

    def dispatch_then_write(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:  # the queue, not the pool
            writer = Writer(waiting.pk)
            writer.start()
            writer.join(timeout=10)
            assert writer.error is None
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "dispatch", dispatch_then_write)
    conv.conversation_close(conversation=first, actor=None)
    monkeypatch.setattr(engine, "dispatch", real)
    # then the slot went to the waiting buyer and its message counts
    waiting = Conversation.objects.get(pk=waiting.pk)
    assert waiting.state == State.ACTIVE and waiting.buyer_wrote
    assert _seqs_consistent(waiting)
    conv.message_create(conversation=waiting, sender=Sender.BUYER, body="hello again")


def test_buyer_writing_while_its_agent_goes_offline_neither_deadlocks_nor_is_lost(
    transactional_db, fast_password_hasher, monkeypatch
):
    # given an agent holding two buyers and a colleague with room
    kit = make_shop("locks-b")
    leaving = _agent(kit, "a", 2)
    held = [_ask(kit, "b1"), _ask(kit, "b2")]
    assert all(c.agent_id == leaving.pk for c in held)
    _agent(kit, "b", 5)
    # when a buyer writes in the second conversation just as the agent goes offline (after the
    # status event, before its conversations are re-routed)
    real: Callable[..., None] = agents._reroute_held
    writers: list[Writer] = []

    def write_then_reroute(account: Account, snapshot, now):  # type: ignore[no-untyped-def]
        writer = Writer(held[1].pk)
        writer.start()
        time.sleep(0.5)  # the writer takes what it can before the re-routing goes on
        writers.append(writer)
        real(account, snapshot, now)

    monkeypatch.setattr(agents, "_reroute_held", write_then_reroute)
    routing.agent_set_status(account=leaving, status=AgentStatus.OFFLINE)
    writers[0].join(timeout=10)
    # then both finished, the conversations moved, and the message is in place
    assert writers[0].error is None, writers[0].error
    for c in held:
        c = Conversation.objects.get(pk=c.pk)
        assert c.state == State.ACTIVE and c.agent_id != leaving.pk
        assert _seqs_consistent(c)
    assert Conversation.objects.get(pk=held[1].pk).buyer_wrote
