"""Fixtures of the live board and metrics tests (SPEC G2, G3)."""

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
