"""Writes of SPEC I6's lists: the shop's sensitive words and its blocked buyers (docs/safety.md).

Permission checks happen at the entry points (the main account or ``manage_settings``); these
take the acting account for its shop, the record of who blocked a buyer and the audit log (SPEC
I5: every change of either list is one row, in the change's transaction)."""

from __future__ import annotations

import unicodedata
from typing import TypedDict

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import Account
from apps.audit.models import AuditAction, AuditTarget
from apps.audit.services import Change, audit_record, created, deleted, diff
from apps.core.errors import InvalidInput
from apps.core.realtime import buyer_group, send_to_group_on_commit
from apps.safety.models import (
    BLOCK_REASON_MAX,
    EXTERNAL_ID_MAX,
    WORD_MAX,
    BuyerBlock,
    SensitiveWord,
    WordAction,
)
from apps.safety.selectors import buyer_block_get, sensitive_word_get
from apps.shopdata.models import Buyer
from apps.shops.models import ShopSettings

WORDS_MAX = 500  # sensitive words per shop
# The channel-layer message that closes a blocked buyer's open sockets
# (``apps.conversations.consumers.buyer.BuyerConsumer.buyer_blocked``).
BUYER_BLOCKED = {"type": "buyer.blocked"}


class WordData(TypedDict):
    id: int
    word: str
    action: str
    created_at: str


class BuyerBlockData(TypedDict):
    """A blocked buyer as the API lists it and the buyer panel shows it."""

    buyer: str  # the external id
    reason: str
    created_by: int | None
    created_by_name: str
    created_at: str


def word_data(word: SensitiveWord) -> WordData:
    return {
        "id": word.pk,
        "word": word.word,
        "action": word.action,
        "created_at": word.created_at.isoformat(),
    }


def block_data(block: BuyerBlock) -> BuyerBlockData:
    author = block.created_by
    return {
        "buyer": block.external_id,
        "reason": block.reason,
        "created_by": block.created_by_id,
        "created_by_name": author.label if author is not None else "",
        "created_at": block.created_at.isoformat(),
    }


def _no_control(value: str) -> bool:
    return not any(unicodedata.category(c) in ("Cc", "Cf") for c in value)


def _checked_word(word: str) -> str:
    word = word.strip()
    if not word or len(word) > WORD_MAX:
        raise InvalidInput(
            _("A sensitive word has 1 to %(n)d characters.") % {"n": WORD_MAX}, field="word"
        )
    if not _no_control(word):
        raise InvalidInput(_("A sensitive word cannot hold control characters."), field="word")
    return word


def _checked_action(action: str) -> WordAction:
    if action not in WordAction.values:
        raise InvalidInput(_("Choose mask or block."), field="action")
    return WordAction(action)


def _words_changed(shop_id: int) -> None:
    """Every change of a shop's words bumps its version, in the same transaction (which also
    takes the settings row's lock: changes of one shop's list are serialized), so that every
    process compiles the words again (``apps.safety.words``)."""
    ShopSettings.objects.filter(shop_id=shop_id).update(
        sensitive_words_version=F("sensitive_words_version") + 1
    )


def _duplicate() -> InvalidInput:
    return InvalidInput(_("This word is in the list already."), field="word")


@transaction.atomic
def sensitive_word_add(*, actor: Account, word: str, action: str) -> SensitiveWord:
    """A new word (compared without case: ``Taobao`` and ``taobao`` are one word)."""
    word, kind = _checked_word(word), _checked_action(action)
    shop_id = actor.shop_id
    _words_changed(shop_id)
    if SensitiveWord.objects.filter(shop_id=shop_id).count() >= WORDS_MAX:
        raise InvalidInput(
            _("A shop has at most %(n)d sensitive words.") % {"n": WORDS_MAX}, field="word"
        )
    if SensitiveWord.objects.filter(shop_id=shop_id, word__iexact=word).exists():
        raise _duplicate()
    try:
        with transaction.atomic():
            row = SensitiveWord.objects.create(shop_id=shop_id, word=word, action=kind)
    except IntegrityError:  # the constraint compares lower(word): a case iexact did not fold
        raise _duplicate() from None
    _audit_word(actor, row, AuditAction.SENSITIVE_WORD_CREATED, created(_audited_word(row)))
    return row


@transaction.atomic
def sensitive_word_update(
    *, actor: Account, word_id: object, word: str | None = None, action: str | None = None
) -> SensitiveWord:
    row = sensitive_word_get(shop_id=actor.shop_id, word_id=word_id)
    before = _audited_word(row)
    changed: list[str] = []
    if word is not None:
        row.word = _checked_word(word)
        if (
            SensitiveWord.objects.filter(shop_id=actor.shop_id, word__iexact=row.word)
            .exclude(pk=row.pk)
            .exists()
        ):
            raise _duplicate()
        changed.append("word")
    if action is not None:
        row.action = _checked_action(action)
        changed.append("action")
    if changed:
        _words_changed(actor.shop_id)
        try:
            with transaction.atomic():
                row.save(update_fields=changed)
        except IntegrityError:
            raise _duplicate() from None
    changes = diff(before, _audited_word(row))
    if changes:
        _audit_word(actor, row, AuditAction.SENSITIVE_WORD_UPDATED, changes)
    return row


@transaction.atomic
def sensitive_word_delete(*, actor: Account, word_id: object) -> None:
    row = sensitive_word_get(shop_id=actor.shop_id, word_id=word_id)
    _words_changed(actor.shop_id)
    _audit_word(actor, row, AuditAction.SENSITIVE_WORD_DELETED, deleted(_audited_word(row)))
    row.delete()


def _checked_external_id(value: str) -> str:
    value = value.strip()
    if not value or len(value) > EXTERNAL_ID_MAX or not _no_control(value):
        raise InvalidInput(_("An external id has 1 to 64 characters."), field="buyer")
    return value


@transaction.atomic
def buyer_block(*, actor: Account, external_id: str, reason: str = "") -> tuple[BuyerBlock, bool]:
    """Block the buyer with this external id (known to the shop or not yet): no widget session,
    no message, and its open sockets are closed once this commits. Blocking again changes the
    reason only. Returns the block and whether it is new."""
    external_id = _checked_external_id(external_id)
    reason = reason.strip()
    if len(reason) > BLOCK_REASON_MAX:
        raise InvalidInput(
            _("A reason has at most %(n)d characters.") % {"n": BLOCK_REASON_MAX}, field="reason"
        )
    block, is_new = BuyerBlock.objects.get_or_create(
        shop_id=actor.shop_id,
        external_id=external_id,
        defaults={"reason": reason, "created_by": actor, "created_at": timezone.now()},
    )
    if not is_new and block.reason != reason:
        before = _audited_block(block)
        block.reason = reason
        block.save(update_fields=["reason"])
        changes = diff(before, _audited_block(block))
        _audit_block(actor, block, AuditAction.BUYER_BLOCK_UPDATED, changes)
    if is_new:
        _audit_block(actor, block, AuditAction.BUYER_BLOCKED, created(_audited_block(block)))
        for buyer_id in Buyer.objects.filter(
            shop_id=actor.shop_id, external_id=external_id
        ).values_list("pk", flat=True):
            send_to_group_on_commit(buyer_group(buyer_id), BUYER_BLOCKED)
    return block, is_new


@transaction.atomic
def buyer_unblock(*, actor: Account, external_id: str) -> None:
    """The buyer may open a session and write again (404 when it is not blocked)."""
    block = buyer_block_get(shop_id=actor.shop_id, external_id=external_id)
    _audit_block(actor, block, AuditAction.BUYER_UNBLOCKED, deleted(_audited_block(block)))
    block.delete()


# SPEC I5: what the audit log records of a word and of a block. The target of a block is the
# buyer, by its external id (blocked whether or not it has written yet).


def _audited_word(word: SensitiveWord) -> dict[str, object]:
    return {"word": word.word, "action": str(word.action)}


def _audit_word(
    actor: Account, word: SensitiveWord, action: AuditAction, changes: dict[str, Change]
) -> None:
    audit_record(
        shop_id=actor.shop_id,
        actor=actor,
        action=action,
        target_type=AuditTarget.SENSITIVE_WORD,
        target_id=word.pk,
        target_name=word.word,
        changes=changes,
    )


def _audited_block(block: BuyerBlock) -> dict[str, object]:
    return {"reason": block.reason}


def _audit_block(
    actor: Account, block: BuyerBlock, action: AuditAction, changes: dict[str, Change]
) -> None:
    audit_record(
        shop_id=actor.shop_id,
        actor=actor,
        action=action,
        target_type=AuditTarget.BUYER,
        target_id=block.external_id,
        target_name=block.external_id,
        changes=changes,
    )
