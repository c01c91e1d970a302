"""Changing quick replies (SPEC D7, API.md "Quick replies"): shop-wide ones with the main
account or ``manage_settings``, personal ones by their owner (any account with ``chat``).
Every change is checked whole before anything is written; an import is all or nothing."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from apps.accounts.models import Account
from apps.accounts.permissions import Perm, has_perm
from apps.core.errors import Forbidden, InvalidFields
from apps.quickreplies.models import (
    CATEGORY_MAX,
    KEYWORD_MAX,
    KEYWORDS_MAX,
    POSITION_MAX,
    TEXT_MAX,
    QuickReply,
)
from apps.shops.models import ShopSettings

CSV_COLUMNS = ("category", "text", "keywords", "position")
# Keywords in one CSV cell: separated by ";" (or the full-width "；", or "|").
_KEYWORD_SEPARATORS = re.compile(r"[;；|]")


@dataclass(frozen=True)
class Fields:
    text: str
    keywords: list[str]
    category: str
    position: int


def _changed(shop_id: int) -> None:
    """Every change of a shop's replies bumps its version, in the same transaction, so that
    every process reads the keywords again (``suggestions``)."""
    ShopSettings.objects.filter(shop_id=shop_id).update(
        quick_replies_version=F("quick_replies_version") + 1
    )


def can_manage_shop_wide(account: Account) -> bool:
    return has_perm(account, Perm.MANAGE_SETTINGS)  # the main account holds every permission


def _check_may_change(actor: Account, personal: bool) -> None:
    if personal:
        if not has_perm(actor, Perm.CHAT):
            raise Forbidden(_("Personal quick replies are for accounts that chat with buyers."))
    elif not can_manage_shop_wide(actor):
        raise Forbidden(_("Shop-wide quick replies need the manage settings permission."))


def cleaned(
    *, text: str, keywords: Iterable[str] = (), category: str = "", position: int = 0
) -> Fields:
    """The fields as stored, or every problem at once (``InvalidFields``)."""
    errors: dict[str, list[str]] = {}
    text = text.strip()
    if not text:
        errors["text"] = [_("Write the reply's text.")]
    elif len(text) > TEXT_MAX:
        errors["text"] = [_("A reply has at most %(n)d characters.") % {"n": TEXT_MAX}]
    words: list[str] = []
    for word in (k.strip() for k in keywords):
        if word and word not in words:
            words.append(word)
    if any(len(w) > KEYWORD_MAX for w in words):
        errors["keywords"] = [_("A keyword has at most %(n)d characters.") % {"n": KEYWORD_MAX}]
    elif len(words) > KEYWORDS_MAX:
        errors["keywords"] = [_("A reply has at most %(n)d keywords.") % {"n": KEYWORDS_MAX}]
    category = category.strip()
    if len(category) > CATEGORY_MAX:
        errors["category"] = [_("A category has at most %(n)d characters.") % {"n": CATEGORY_MAX}]
    if position < 0:
        errors["position"] = [_("Ensure this value is greater than or equal to 0.")]
    elif position > POSITION_MAX:  # the column's limit: beyond it the database refused (a 500)
        errors["position"] = [
            _("Ensure this value is less than or equal to %(limit_value)s.")
            % {"limit_value": POSITION_MAX}
        ]
    if errors:
        raise InvalidFields(errors)
    return Fields(text=text, keywords=words, category=category, position=position)


@transaction.atomic
def quick_reply_create(
    *,
    actor: Account,
    text: str,
    keywords: Iterable[str] = (),
    category: str = "",
    personal: bool = False,
    position: int = 0,
) -> QuickReply:
    _check_may_change(actor, personal)
    f = cleaned(text=text, keywords=keywords, category=category, position=position)
    _changed(actor.shop_id)
    return QuickReply.objects.create(
        shop_id=actor.shop_id,
        owner=actor if personal else None,
        text=f.text,
        keywords=f.keywords,
        category=f.category,
        position=f.position,
    )


@transaction.atomic
def quick_reply_update(
    *,
    actor: Account,
    reply: QuickReply,
    text: str | None = None,
    keywords: Iterable[str] | None = None,
    category: str | None = None,
    position: int | None = None,
) -> QuickReply:
    """Change what is given (None: as it is). Whether a reply is personal does not change."""
    _check_may_change(actor, reply.personal)
    f = cleaned(
        text=reply.text if text is None else text,
        keywords=reply.keywords if keywords is None else keywords,
        category=reply.category if category is None else category,
        position=reply.position if position is None else position,
    )
    reply.text, reply.keywords, reply.category, reply.position = (
        f.text,
        f.keywords,
        f.category,
        f.position,
    )
    reply.save(update_fields=["text", "keywords", "category", "position", "updated_at"])
    _changed(reply.shop_id)
    return reply


@transaction.atomic
def quick_reply_delete(*, actor: Account, reply: QuickReply) -> None:
    _check_may_change(actor, reply.personal)
    reply.delete()
    _changed(reply.shop_id)


def export_csv(*, shop_id: int) -> str:
    """The shop-wide replies as CSV (``CSV_COLUMNS``, a header line first; keywords joined
    with ";"), in the order of the list."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    rows = QuickReply.objects.filter(shop_id=shop_id, owner__isnull=True).order_by(
        "category", "position", "id"
    )
    for r in rows:
        writer.writerow([r.category, r.text, ";".join(r.keywords), r.position])
    return out.getvalue()


@transaction.atomic
def import_csv(*, actor: Account, data: str) -> list[QuickReply]:
    """Adds the shop-wide replies of a CSV in ``export_csv``'s shape (a header line naming at
    least ``text``; the other columns optional). All or nothing: a bad row refuses the whole
    file, naming every bad row (``InvalidFields`` on ``file``)."""
    _check_may_change(actor, personal=False)
    reader = csv.DictReader(io.StringIO(data.lstrip("\ufeff")))
    if reader.fieldnames is None or "text" not in [c.strip() for c in reader.fieldnames]:
        raise InvalidFields({"file": [_("The file needs a header line with a text column.")]})
    made: list[Fields] = []
    problems: list[str] = []
    for line, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "") for k, v in row.items()}
        try:
            position = int(row.get("position") or 0)
            made.append(
                cleaned(
                    text=row.get("text", ""),
                    keywords=_KEYWORD_SEPARATORS.split(row.get("keywords", "")),
                    category=row.get("category", ""),
                    position=position,
                )
            )
        except ValueError:
            problems.append(_("Line %(n)d: the position is not a whole number.") % {"n": line})
        except InvalidFields as error:
            detail = "; ".join(m for messages in error.errors.values() for m in messages)
            problems.append(_("Line %(n)d: %(problem)s") % {"n": line, "problem": detail})
    if problems:
        raise InvalidFields({"file": problems})
    if not made:
        raise InvalidFields({"file": [_("The file has no replies.")]})
    _changed(actor.shop_id)
    return QuickReply.objects.bulk_create(
        QuickReply(
            shop_id=actor.shop_id,
            text=f.text,
            keywords=f.keywords,
            category=f.category,
            position=f.position,
        )
        for f in made
    )
