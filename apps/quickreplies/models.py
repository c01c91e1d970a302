"""Quick replies (SPEC D7): canned texts an agent inserts into the reply box."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.models import ShopOwned

TEXT_MAX = 500
KEYWORD_MAX = 20  # characters of one keyword
KEYWORDS_MAX = 20  # keywords of one reply
CATEGORY_MAX = 50
POSITION_MAX = 2_147_483_647  # PositiveIntegerField's column (PostgreSQL integer)


class QuickReply(ShopOwned):
    """Shop-wide (``owner`` null; managed with ``manage_settings``) or personal (its owner's
    only). ``keywords``: when one occurs in a buyer's latest message, the reply is offered first.
    ``category`` groups the list; ``position`` orders a category."""

    text = models.TextField()
    keywords = models.JSONField(default=list)
    category = models.CharField(max_length=CATEGORY_MAX, blank=True, default="")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="quick_replies",
    )
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category", "position", "id"]
        indexes = [models.Index(fields=["shop", "owner"], name="quickreply_shop_owner_idx")]

    @property
    def personal(self) -> bool:
        return self.owner_id is not None

    def __str__(self) -> str:
        return self.text[:40]
