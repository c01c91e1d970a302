"""Fixtures for routing scenarios on the real database."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from apps.accounts.models import Account
from apps.accounts.permissions import Perm
from apps.conversations import lifecycle as conv
from apps.conversations.lifecycle import agent_set_status
from apps.conversations.models import Conversation
from apps.routing.models import AgentState, AgentStatus, Group
from apps.shopdata.models import Buyer
from conftest import ShopKit


@dataclass
class Desk:
    """A shop ready for routing scenarios."""

    kit: ShopKit

    @property
    def shop_id(self) -> int:
        return self.kit.shop.pk

    def agent(self, name: str, *, status: str = "online", **fields: object) -> Account:
        account = self.kit.sub(name, {Perm.CHAT}, **fields)
        if status != "offline":
            self.status(account, status)
        return account

    def status(self, account: Account, status: str) -> None:
        agent_set_status(account=account, status=AgentStatus(status))

    def group(self, name: str, **fields: object) -> Group:
        return Group.objects.create(shop=self.kit.shop, name=name, **fields)

    def buyer(self, external_id: str, **fields: object) -> Buyer:
        return Buyer.objects.create(shop=self.kit.shop, external_id=external_id, **fields)

    def ask(self, buyer: Buyer | str, **kw: object) -> Conversation:
        if isinstance(buyer, str):
            buyer = Buyer.objects.filter(
                shop=self.kit.shop, external_id=buyer
            ).first() or self.buyer(buyer)
        c = conv.conversation_open(buyer=buyer)
        return conv.request_human(conversation=c, **kw)  # type: ignore[arg-type]

    def close(self, c: Conversation, actor: Account | None = None) -> Conversation:
        return conv.conversation_close(conversation=c, actor=actor)

    def settings(self, **fields: object) -> None:
        s = self.kit.shop.settings
        for k, v in fields.items():
            setattr(s, k, v)
        s.save()

    def load(self, account: Account) -> int:
        return AgentState.objects.get(account=account).open_count

    def fresh(self, c: Conversation) -> Conversation:
        return Conversation.objects.get(pk=c.pk)


@pytest.fixture
def desk(shop_a: ShopKit) -> Desk:
    return Desk(shop_a)


@pytest.fixture(autouse=True)
def _fast_passwords(fast_password_hasher: None) -> None:
    """Accounts here are made and checked in this process only (see the root conftest)."""
