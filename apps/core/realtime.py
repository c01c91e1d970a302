"""Pushing to sockets, only ever after the transaction that caused it has committed."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def account_group(account_id: int) -> str:
    """The channel-layer group every socket of one account joins."""
    return f"account.{account_id}"


def send_to_group_on_commit(group: str, message: dict[str, Any]) -> None:
    """Send ``message`` to ``group`` once the current transaction commits (at once outside one)."""

    def send() -> None:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(group, message)

    transaction.on_commit(send, robust=True)
