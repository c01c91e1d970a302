"""The shop's routing lock (DESIGN, routing decision): decisions for one shop are serialized
across processes; shops run in parallel. Lock order everywhere: the shop, then rows."""

from __future__ import annotations

from django.db import connection, transaction

ADVISORY_NAMESPACE = 0x5348  # two-key advisory locks: (namespace, shop id)


def lock_statement(shop_id: int) -> tuple[str, list[int]]:
    """The statement ``lock_shop`` runs (PostgreSQL), to send with the reads that follow it
    (``apps.core.prepared.run_together``): they run once the lock is held."""
    return "SELECT pg_advisory_xact_lock(%s, %s)", [ADVISORY_NAMESPACE, shop_id]


def lock_shop(shop_id: int) -> None:
    """Serialize routing for one shop until the transaction ends.

    PostgreSQL: ``pg_advisory_xact_lock``. SQLite (the single-process embedded mode) serializes
    writers itself.
    """
    assert transaction.get_connection().in_atomic_block, "lock_shop() needs a transaction"
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(*lock_statement(shop_id))
