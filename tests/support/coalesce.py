"""A coalescer (``apps.core.coalesce``) run by the test: on, with no thread of its own and a gate
in this process on the test's clock; the test calls ``step`` after the commits it wants counted.
Never a sleep: an expired gate is one whose time the test moved past."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from apps.core import coalesce


class Clock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def stepped(
    topic: str, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[coalesce.Coalescer, Clock]]:
    """The topic's coalescer, on, stepped by the test (see the module docstring). The other
    topics stay off (no handler for the test's length), so that no thread of theirs runs
    beside the test."""
    settings.HELPDESK_COALESCE_ENABLED = True
    for other in list(coalesce._topics.values()):
        if other.topic != topic:
            monkeypatch.setattr(other, "handler", None)
    found = coalesce.coalescer(topic)
    clock = Clock()
    monkeypatch.setattr(found, "autostart", False)
    monkeypatch.setattr(found, "gate", coalesce.LocalGate(clock))
    monkeypatch.setattr(found, "clock", clock)
    monkeypatch.setattr(found, "_pid", None)
    try:
        yield found, clock
    finally:
        found._marked, found._pending, found._pid = set(), {}, None
