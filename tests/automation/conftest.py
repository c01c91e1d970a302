"""The routing scenarios' ``desk`` (a shop ready for routing), plus a clock to move."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import time_machine

from conftest import ShopKit
from tests.conversations.conftest import Desk, _fast_passwords, desk  # noqa: F401

# A Monday, 10:00 in Shanghai (the default shop time zone): inside the default business hours.
T0 = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    """The clock stands still at T0 until the test moves it (``clock.move_to``, ``shift``)."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def desk_b(shop_b: ShopKit) -> Desk:
    return Desk(shop_b)
