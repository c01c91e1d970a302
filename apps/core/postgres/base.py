"""Django's PostgreSQL backend, with the pool's health check only for a connection that has
been idle a while (``ENGINE = "apps.core.postgres"`` with the pool on; settings, DATABASES).

With ``CONN_HEALTH_CHECKS`` Django has psycopg's pool check every connection it hands out with
an empty query: a round trip at the start of every request and of every socket call, and under
the widget burst a release and re-acquisition of the GIL by each request thread for it (issue
8; docs/routing.md, "Throughput"). What the check guards against is a connection that died
while it sat in the pool (PostgreSQL restarted, a proxy dropped it). A connection given back
less than ``HELPDESK_DB_POOL_CHECK_AFTER`` seconds ago was working then; older ones are checked
as before, and one that fails goes back to the pool, which discards it, and another is taken.
Django's own check is off (``CONN_HEALTH_CHECKS = False`` with the pool), this one replaces it.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
from django.conf import settings
from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool

# An attribute on the psycopg connection: when Django last gave it back to the pool.
_RETURNED = "_helpdesk_returned_at"


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        pool = self.pool  # type: ignore[attr-defined]  # Django 5.1+, not in django-stubs yet
        if not pool:
            return connection
        fresh = settings.HELPDESK_DB_POOL_CHECK_AFTER
        # Every connection of a full pool may have died together (PostgreSQL restarted): the
        # pool opens a new one once the dead ones are discarded.
        for _ in range(pool.max_size + 1):
            returned = getattr(connection, _RETURNED, None)
            if returned is not None and time.monotonic() - returned < fresh:
                return connection
            try:
                ConnectionPool.check_connection(connection)
            except psycopg.Error:
                connection._pool.putconn(connection)  # broken: the pool discards it
                connection = super().get_new_connection(conn_params)
            else:
                return connection
        try:
            ConnectionPool.check_connection(connection)
        except psycopg.Error:  # still failing: the database is down (503, apps.core.unavailable)
            connection._pool.putconn(connection)
            raise
        return connection

    def _close(self) -> None:
        if self.pool and self.connection is not None:  # type: ignore[attr-defined]
            setattr(self.connection, _RETURNED, time.monotonic())
        super()._close()  # type: ignore[misc]
