"""While a routing pass holds its shop's lock, the process's other request threads give way
(apps.core.precedence, issue 8): they wait for the pass, never longer than their bound, and never
inside a transaction (whose row locks the pass might be waiting for)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import transaction

from apps.core import precedence


def _give_way_in_thread(max_wait: float | None, *, atomic: bool = False) -> threading.Event:
    done = threading.Event()

    def run() -> None:
        if atomic:
            with transaction.atomic():
                precedence.give_way(max_wait)
        else:
            precedence.give_way(max_wait)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    return done


def test_nobody_holding_means_no_wait() -> None:
    started = time.perf_counter()
    precedence.give_way(max_wait=5)
    assert time.perf_counter() - started < 1


def test_a_request_thread_waits_for_the_pass_and_goes_on_when_it_ends() -> None:
    with precedence.holding():
        done = _give_way_in_thread(max_wait=30)
        assert not done.wait(0.2)  # still waiting while the pass holds the lock
    assert done.wait(5)  # released as soon as the pass ends, long before its bound


def test_the_wait_is_bounded() -> None:
    release = threading.Event()
    held = threading.Event()

    def long_pass() -> None:
        with precedence.holding():
            held.set()
            release.wait(30)

    threading.Thread(target=long_pass, daemon=True).start()
    assert held.wait(5)
    try:
        done = _give_way_in_thread(max_wait=0.05)
        assert done.wait(5)  # the pass still holds the lock: the bound ended the wait
    finally:
        release.set()


@pytest.mark.django_db(transaction=True)
def test_a_thread_inside_a_transaction_never_waits() -> None:
    with precedence.holding():
        done = _give_way_in_thread(max_wait=30, atomic=True)
        assert done.wait(5)


def test_the_bound_comes_from_the_settings(settings) -> None:  # type: ignore[no-untyped-def]
    settings.HELPDESK_PASS_PRECEDENCE_MS = 0  # off: nobody waits
    with precedence.holding():
        done = _give_way_in_thread(max_wait=None)
        assert done.wait(5)
    settings.HELPDESK_PASS_PRECEDENCE_MS = 30_000
    with precedence.holding():
        done = _give_way_in_thread(max_wait=None)
        assert not done.wait(0.2)
    assert done.wait(5)
