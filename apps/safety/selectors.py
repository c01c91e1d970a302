"""Reads of the shop's safety lists, scoped by the caller's shop first (SPEC A1: a missing and
another shop's entry both answer 404)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from apps.core.errors import NotFound
from apps.safety.models import BuyerBlock, SensitiveWord


def sensitive_words_of(*, shop_id: int) -> QuerySet[SensitiveWord]:
    return SensitiveWord.objects.filter(shop_id=shop_id).order_by("word", "id")


def sensitive_word_get(*, shop_id: int, word_id: object) -> SensitiveWord:
    word = (
        SensitiveWord.objects.filter(shop_id=shop_id, pk=int(str(word_id))).first()
        if str(word_id).isdigit()
        else None
    )
    if word is None:
        raise NotFound(_("No such sensitive word."))
    return word


def buyer_blocks_of(*, shop_id: int) -> QuerySet[BuyerBlock]:
    """The shop's blocked buyers, the latest first."""
    return (
        BuyerBlock.objects.filter(shop_id=shop_id)
        .select_related("created_by__shop")
        .order_by("-created_at", "-id")
    )


def buyer_block_of(*, shop_id: int, external_id: str) -> BuyerBlock | None:
    """The buyer's block, if the shop blocked it."""
    return (
        BuyerBlock.objects.filter(shop_id=shop_id, external_id=external_id)
        .select_related("created_by__shop")
        .first()
    )


def buyer_block_get(*, shop_id: int, external_id: str) -> BuyerBlock:
    block = buyer_block_of(shop_id=shop_id, external_id=external_id)
    if block is None:
        raise NotFound(_("This buyer is not blocked."))
    return block
