"""Counting the SQL of every thread: the sockets' database work runs on threads of their own
(``apps.core.db.db_async``), where ``django_assert_num_queries`` and ``CaptureQueriesContext``
(one connection, the test's thread) see nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created


@contextmanager
def queries_in_all_threads() -> Iterator[list[str]]:
    """The SQL run by any thread while the block runs: every connection opened meanwhile gets
    an execute wrapper (socket calls open theirs per call: they hand it back to the pool)."""
    seen: list[str] = []
    lock = threading.Lock()
    wrapped: list[BaseDatabaseWrapper] = []

    def record(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        with lock:
            seen.append(sql)
        return execute(sql, *args)

    def install(sender: object, connection: BaseDatabaseWrapper, **kwargs: object) -> None:
        if record not in connection.execute_wrappers:
            connection.execute_wrappers.append(record)
            with lock:
                wrapped.append(connection)

    connection_created.connect(install, weak=False)
    try:
        yield seen
    finally:
        connection_created.disconnect(install)
        for connection in wrapped:
            if record in connection.execute_wrappers:
                connection.execute_wrappers.remove(record)


def presence_writes(sql: list[str]) -> list[str]:
    """The statements that write an agent's ``last_seen_at``."""
    return [q for q in sql if q.startswith("UPDATE") and "last_seen_at" in q]
