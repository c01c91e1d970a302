"""The live board's socket ``/ws/monitor/`` (SPEC G2): the account's own event stream, as on
``/ws/agent/`` (the same outbox, resume and heartbeats: ``StreamConsumer``), for the main account
and ``view_monitor`` accounts only (others are refused at the handshake, HTTP 403), sending only
``monitor.updated``.

Why not the agent socket: an agent socket is presence (SPEC B9: an agent with a socket open stays
online and receives buyers); a supervisor who leaves the board open after closing the workbench
must go offline as usual. This socket records no presence and takes no frames but ``ping``.
"""

from __future__ import annotations

from typing import Any

from apps.accounts.models import Account
from apps.accounts.permissions import Perm, has_perm
from apps.conversations.events import MONITOR_UPDATED
from apps.core.db import db_async
from apps.events.consumers import StreamConsumer
from apps.events.services import Recipient, to_account


def may_watch_board(account_id: int) -> bool:
    account = Account.objects.select_related("shop").filter(pk=account_id).first()
    return account is not None and has_perm(account, Perm.VIEW_MONITOR)


class MonitorConsumer(StreamConsumer):
    async def authorize(self) -> Recipient | None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        if not await db_async(may_watch_board)(user.pk):
            return None  # refused at the handshake: HTTP 403, as for a foreign Origin
        self.account_id: int = user.pk
        return to_account(user.pk)

    async def hello_data(self) -> dict[str, Any]:
        return {"account": self.account_id}

    async def send_json(self, content: Any, close: bool = False) -> None:
        # The stream's other events are the workbench's: counted as delivered (the stream's
        # order and gap filling stay the base class's), not sent.
        if "stream_seq" in content and content.get("type") != MONITOR_UPDATED:
            return
        await super().send_json(content, close=close)
