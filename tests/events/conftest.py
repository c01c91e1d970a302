"""Fixtures for the event catalogue's tests: a desk (tests/conversations) and a still clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import time_machine

from conftest import ShopKit
from tests.conversations.conftest import Desk

T0 = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def desk(shop_a: ShopKit, fast_password_hasher: None) -> Desk:
    return Desk(shop_a)


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    """The clock stands still at T0 until the test moves it."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller
