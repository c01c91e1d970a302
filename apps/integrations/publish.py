"""Conversation events to the shop's webhooks (SPEC H4; docs/integrations.md, "Cost on the hot
paths").

The event catalogue (``apps.conversations.events``) names the webhook event types
(``subscriptions.declare``) and hands every such event here (``publish``), inside the
transaction that made it. This module is generic, like the outbox (``apps.events``): it knows no
type by name.

Most shops have no webhook, and the events come from the lifecycle's hot paths (a buyer's
message, a request for a human, a routing pass), whose queries are pinned
(``tests/conversations/test_query_counts.py``). So whether a shop has subscriptions is known
without a query:

- each process keeps, per shop, the event types its active webhooks take
  (``subscriptions.subscribed``), trusted for ``TRUST_SECONDS`` after it was last confirmed;
- confirming it is one Redis read, after commit: a stamp (``webhooks:stamp:<shop>``) that every
  change of the shop's webhooks replaces when it commits (``subscriptions.changed``). Only a
  stamp the process has not seen costs a database read (the shop's webhooks, once), and the
  stamp expires after ``STAMP_TTL`` seconds, so a lost replacement (Redis down then) heals;
- while the process knows the shop takes none of an event's type, ``publish`` returns at once:
  no on-commit callback, no Redis, no query. Otherwise the check waits for the commit (a
  rolled-back event goes nowhere, and nothing is added under the shop's lock), and an event the
  shop takes becomes one Celery task (``integrations.webhook_event``), which makes its
  deliveries in the worker.

A webhook made in another process receives events from at most ``TRUST_SECONDS`` later; in the
process that made it, at once. A webhook switched off or deleted is re-checked by the worker
before every attempt."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from apps.integrations import subscriptions
from apps.integrations.tasks import webhook_event


def publish(*, shop_id: int, type: str, data: Any) -> None:
    """The catalogue's event ``type`` with the socket event's ``data``, for the shop's webhooks
    once the transaction commits (see the module's docstring)."""
    known = subscriptions.known(shop_id)
    if (
        known is not None
        and type not in known.types
        and time.monotonic() - known.checked < subscriptions.TRUST_SECONDS
    ):
        return
    created_at = timezone.now()
    transaction.on_commit(lambda: _committed(shop_id, type, data, created_at), robust=True)


def _committed(shop_id: int, type: str, data: Any, created_at: datetime) -> None:
    if type not in subscriptions.subscribed(shop_id):
        return
    webhook_event.delay(
        shop_id,
        {
            "id": str(uuid.uuid4()),
            "type": type,
            "created_at": created_at.isoformat(),
            "data": json.dumps(data, cls=DjangoJSONEncoder),
        },
    )
