"""The back office's services on the real database, with the routing desk of the conversation
tests (shops, agents, buyers asking for a human)."""

from __future__ import annotations

import pytest

from conftest import ShopKit
from tests.conversations.conftest import Desk


@pytest.fixture
def desk(shop_a: ShopKit) -> Desk:
    return Desk(shop_a)


@pytest.fixture(autouse=True)
def _fast_passwords(fast_password_hasher: None) -> None:
    """Accounts here are made and checked in this process only (see the root conftest)."""
