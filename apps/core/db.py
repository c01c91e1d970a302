"""Database work from async code (the sockets): :func:`db_async`.

Channels' ``database_sync_to_async`` runs every call of a process on asgiref's one
thread-sensitive thread, so with many sockets the calls queue behind each other and the latency
tail grows with the number of sockets. :func:`db_async` runs them on a bounded pool of
``HELPDESK_WS_DB_THREADS`` threads instead (``thread_sensitive=False``: nothing here relies on
thread affinity, each call opens and ends its own transactions), and hands the call's database
connection back to the pool when the call ends, so an idle socket holds no connection: a process
uses at most ``HELPDESK_DB_POOL_MAX`` connections whatever the number of sockets.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connections

P = ParamSpec("P")
R = TypeVar("R")

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


def executor() -> ThreadPoolExecutor:
    """The process's socket database threads (made on first use, after settings are read)."""
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=max(1, int(settings.HELPDESK_WS_DB_THREADS)),
                thread_name_prefix="socket-db",
            )
        return _executor


def db_async(fn: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """``await db_async(fn)(*args)``: ``fn`` on a socket database thread; its connection goes
    back to the pool (or is closed, without one) as soon as it returns or raises."""

    @functools.wraps(fn)
    def released(*args: P.args, **kwargs: P.kwargs) -> R:
        close_old_connections()  # a connection left unusable by an earlier failure
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    @functools.wraps(fn)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        run = sync_to_async(released, thread_sensitive=False, executor=executor())
        return await run(*args, **kwargs)

    return call


# psycopg turns a statement's ``%s`` placeholders into ``$n`` with a regular expression, and
# caches the result (an LRU of 128 statements) only for statements of at most 4 KB and 50
# parameters, so that bulk statements with thousands of values do not fill it. Two statements
# of every widget burst request are just above that: the routing pass's read of the pending
# requests (4.2 KB, their routing facts as subqueries) and an assignment's write (the
# conversation's 40 columns, its welcome and the agents' counters: 51 parameters), and each run
# split them again, about 0.3 ms of CPU each under the shop's lock (issue 8, cProfile). The
# limits below keep bulk statements out and the cache at 128 entries.
CACHED_STATEMENT_LENGTH = 16384
CACHED_STATEMENT_PARAMS = 256


def cache_long_statements() -> None:
    """Raise psycopg's limits on the statements whose conversion it caches (see above). They
    are module constants of ``psycopg._queries``, read on each call; a psycopg without them
    is left alone (``tests/core/test_db_statement_cache.py`` checks they are there and used)."""
    try:
        from psycopg import _queries
    except ImportError:  # the embedded mode without psycopg
        return
    if hasattr(_queries, "MAX_CACHED_STATEMENT_LENGTH"):
        _queries.MAX_CACHED_STATEMENT_LENGTH = max(
            _queries.MAX_CACHED_STATEMENT_LENGTH, CACHED_STATEMENT_LENGTH
        )
    if hasattr(_queries, "MAX_CACHED_STATEMENT_PARAMS"):
        _queries.MAX_CACHED_STATEMENT_PARAMS = max(
            _queries.MAX_CACHED_STATEMENT_PARAMS, CACHED_STATEMENT_PARAMS
        )


# Django reads every ``timestamptz`` through its own loader, a subclass of psycopg's pure-Python
# one (a regular expression and a ``datetime`` built in Python, then ``replace(tzinfo=...)``):
# about 5 µs a value, where psycopg's C loader takes under 1 µs. A routing pass reads a dozen
# timestamps per agent and per pending request, and the widget burst spent 8 % of the pass in
# that parsing (issue 8, py-spy). The C loader answers the same ``datetime`` (the connection's
# session time zone, which Django sets to its own: UTC with USE_TZ) and raises the same errors.
def use_c_timestamp_loader() -> None:
    """Have Django's PostgreSQL connections read ``timestamptz`` with psycopg's C loader when
    psycopg runs its C implementation (``tests/core/test_db_timestamps.py``)."""
    try:
        import psycopg
        from django.db.backends.postgresql.psycopg_any import get_adapters_template
        from psycopg.adapt import Loader
    except ImportError:  # the embedded mode without psycopg
        return
    if psycopg.pq.__impl__ not in ("c", "binary"):
        return
    c_impl: Any
    if psycopg.pq.__impl__ == "binary":
        from psycopg_binary import _psycopg as c_impl
    else:
        from psycopg_c import _psycopg as c_impl  # type: ignore[import-not-found,no-redef]

    for alias in connections:
        wrapper = connections[alias]
        if wrapper.vendor != "postgresql":
            continue
        zone = wrapper.timezone

        class CTimestamptzLoader(Loader):
            # Django compares this with its connection's zone before each cursor and
            # registers its own loader on the cursor if they differ (create_cursor).
            timezone = zone

            def __init__(self, oid: int, context: Any = None) -> None:
                super().__init__(oid, context)
                self._c = c_impl.TimestamptzLoader(oid, context)

            def load(self, data: Any) -> Any:
                value = self._c.load(data)
                if value.tzinfo is not self.timezone:  # a session zone other than Django's
                    value = value.replace(tzinfo=self.timezone)
                return value

        template = get_adapters_template(settings.USE_TZ, zone)
        template.register_loader("timestamptz", CTimestamptzLoader)
