"""SPEC I6 (personal-information law): closed conversations are deleted ``retention_days``
after they closed, a shop setting (365 by default; 0 keeps them for ever), with their messages,
internal notes, rating and images, the images' files on the storage included (docs/safety.md).

Run by the beat job ``conversations.retention_purge`` (hourly, ``config/celery.py``): per shop,
the oldest closed conversations past the period, a batch per transaction (an index on closed
conversations by shop and ``closed_at`` finds them), the files deleted once the batch's
transaction has committed (a failed batch keeps its files). Open conversations are never
touched, whatever their age. Idempotent: two runs at once delete each row once."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from apps.conversations.models import Attachment, Conversation, State
from apps.shops.models import ShopSettings

logger = logging.getLogger(__name__)

BATCH = 200  # conversations deleted in one transaction
RUN_MAX = 20_000  # conversations one run deletes at most; the next run goes on


def _delete_files(names: Iterable[str]) -> None:
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except Exception:  # a file already gone, a storage hiccup: the row is gone anyway
            logger.warning("retention: could not delete the file %s", name, exc_info=True)


def _purge_batch(shop_id: int, cutoff: datetime) -> int:
    with transaction.atomic():
        ids = list(
            Conversation.objects.filter(shop_id=shop_id, state=State.CLOSED, closed_at__lt=cutoff)
            .order_by("closed_at", "pk")
            .values_list("pk", flat=True)[:BATCH]
        )
        if not ids:
            return 0
        files = [
            name
            for pair in Attachment.objects.filter(conversation_id__in=ids).values_list(
                "image", "thumbnail"
            )
            for name in pair
        ]
        Attachment.objects.filter(conversation_id__in=ids).delete()
        Conversation.objects.filter(pk__in=ids, state=State.CLOSED).delete()
        transaction.on_commit(lambda: _delete_files(files))
    return len(ids)


def retention_purge(*, now: datetime | None = None) -> int:
    """Delete what every shop's retention period has passed; returns how many conversations."""
    now = now or timezone.now()
    deleted = 0
    shops = ShopSettings.objects.filter(retention_days__gt=0).values_list(
        "shop_id", "retention_days"
    )
    for shop_id, days in shops.order_by("shop_id"):
        cutoff = now - timedelta(days=days)
        while deleted < RUN_MAX:
            done = _purge_batch(shop_id, cutoff)
            deleted += done
            if done < BATCH:
                break
    if deleted:
        logger.info("retention: deleted %d closed conversations", deleted)
    return deleted
