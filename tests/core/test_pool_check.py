"""Issue 8: a pooled connection is checked with an empty query only when it sat idle longer than
HELPDESK_DB_POOL_CHECK_AFTER (apps.core.postgres); one that died meanwhile is replaced, and the
request that asked for it never sees the failure."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection, connections
from psycopg_pool import ConnectionPool

pytestmark = pytest.mark.django_db(transaction=True)


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def _checks(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    seen: list[object] = []
    real = ConnectionPool.check_connection

    def counted(conn: psycopg.Connection) -> None:
        seen.append(conn)
        real(conn)

    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(counted))
    return seen


def test_the_pool_is_on_with_the_idle_check() -> None:
    assert connection.vendor == "postgresql"
    assert connection.pool is not None
    assert type(connections["default"]).__module__ == "apps.core.postgres.base"


def test_a_connection_given_back_just_now_is_handed_out_without_a_round_trip(
    settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.HELPDESK_DB_POOL_CHECK_AFTER = 3600
    for _ in range(5):  # every connection of the pool used once, and given back: stamped
        _backend_pid()
        connection.close()
    checks = _checks(monkeypatch)
    for _ in range(5):
        _backend_pid()
        connection.close()
    assert checks == []


def test_an_idle_connection_that_died_in_the_pool_is_replaced_unseen(
    settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.HELPDESK_DB_POOL_CHECK_AFTER = 0  # every connection counts as idle
    pool = connections["default"].pool
    pooled = set()
    for _ in range(5):  # the pool's connections, each used and given back
        pooled.add(_backend_pid())
        connection.close()
    # PostgreSQL drops them while they sit in the pool (a restart, a proxy's timeout).
    params = connection.get_connection_params()
    try:
        with psycopg.connect(**{**params, "autocommit": True}) as other:
            for pid in pooled:
                other.execute("SELECT pg_terminate_backend(%s)", [pid])
        checks = _checks(monkeypatch)
        assert _backend_pid() not in pooled  # no error: the dead ones were left behind
        assert checks
    finally:
        connection.close()
        pool.check()  # nothing dead stays in the pool for the tests that follow
