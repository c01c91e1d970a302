"""SPEC I6: a shop's sensitive words and its blocked buyers (docs/safety.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import ShopOwned

WORD_MAX = 50  # characters of one sensitive word
BLOCK_REASON_MAX = 200
EXTERNAL_ID_MAX = 64  # shopdata.Buyer.external_id


class WordAction(models.TextChoices):
    """What a message containing the word gets: the word replaced by as many asterisks as it
    has characters, or the whole message refused (400, nothing stored)."""

    MASK = "mask", _("Mask it with asterisks")
    BLOCK = "block", _("Refuse the message")


class SensitiveWord(ShopOwned):
    """One word of the shop's list; matched as a substring, case-insensitively for Latin text
    (``apps.safety.words``)."""

    word = models.CharField(max_length=WORD_MAX)
    action = models.CharField(max_length=8, choices=WordAction.choices, default=WordAction.MASK)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint("shop", Lower("word"), name="sensitive_word_once_per_shop")
        ]

    def __str__(self) -> str:
        return f"sensitive word {self.pk} ({self.action})"


class BuyerBlock(ShopOwned):
    """A buyer the shop refuses (by external id, whether or not it has written yet): no widget
    session, no message, its open sockets closed."""

    external_id = models.CharField(max_length=EXTERNAL_ID_MAX)
    reason = models.CharField(max_length=BLOCK_REASON_MAX, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "external_id"], name="buyer_block_once")
        ]

    def __str__(self) -> str:
        return f"buyer block {self.pk}"
