"""The service assistant's intent rules (SPEC B4, API.md "intent rules"): a name and the
keywords that reveal it in a buyer's words; groups scope by the name (B4). Permission checks
happen at the entry points (``manage_routing``, SPEC A4: intents feed routing scopes); every
rule is the actor's shop's (another shop's answers 404, SPEC A1).

The REST API and the admin pages both write through these functions, so the rules below hold
whichever way a rule is changed.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from apps.accounts.models import Account
from apps.conversations.models import IntentRule
from apps.core.errors import InvalidFields, NotFound
from apps.core.selectors import get_by_id
from apps.routing.locking import lock_shop
from apps.routing.models import Group

MAX_NAME = 64  # IntentRule.name
MAX_KEYWORD = 64  # the API's keyword length (API.md)


def intent_rules_of(*, actor: Account) -> QuerySet[IntentRule]:
    """The actor's shop's rules, oldest first (the order the assistant tries them in)."""
    return IntentRule.objects.filter(shop_id=actor.shop_id).order_by("id")


def intent_rule_get(*, actor: Account, rule_id: object) -> IntentRule:
    """One rule of the actor's shop; missing, foreign or malformed ids raise NotFound."""
    return get_by_id(intent_rules_of(actor=actor), rule_id, _("No such intent."))


def _cleaned(
    *, actor: Account, name: str, keywords: Iterable[str], rule: IntentRule | None
) -> tuple[str, list[str]]:
    """Name stripped and unique in the shop, keywords stripped, deduplicated, sorted and not
    empty; every problem at once (``InvalidFields``)."""
    errors: dict[str, list[str]] = {}
    name = name.strip()
    if not name:
        errors["name"] = [_("Give the intent a name.")]
    elif len(name) > MAX_NAME:
        errors["name"] = [_("A name has at most %(n)d characters.") % {"n": MAX_NAME}]
    else:
        clash = intent_rules_of(actor=actor).filter(name=name)
        if rule is not None:
            clash = clash.exclude(pk=rule.pk)
        if clash.exists():
            errors["name"] = [_("An intent with this name already exists.")]
    cleaned = sorted({k.strip() for k in keywords if k.strip()})
    too_long = [k for k in cleaned if len(k) > MAX_KEYWORD]
    if not cleaned:
        errors["keywords"] = [_("Give at least one keyword.")]
    elif too_long:
        errors["keywords"] = [
            _("A keyword has at most %(n)d characters: %(keywords)s")
            % {"n": MAX_KEYWORD, "keywords": ", ".join(too_long)}
        ]
    if errors:
        raise InvalidFields(errors)
    return name, cleaned


def _save(rule: IntentRule, fields: list[str] | None = None) -> None:
    # Two requests may pass the name check together: the database's constraint decides.
    try:
        with transaction.atomic():
            rule.save(update_fields=fields)
    except IntegrityError:
        raise InvalidFields({"name": [_("An intent with this name already exists.")]}) from None


@transaction.atomic
def intent_rule_create(*, actor: Account, name: str, keywords: Iterable[str]) -> IntentRule:
    """A new rule of the actor's shop; it labels buyers' messages from the next one on (B4)."""
    name, cleaned = _cleaned(actor=actor, name=name, keywords=keywords, rule=None)
    rule = IntentRule(shop_id=actor.shop_id, name=name, keywords=cleaned)
    _save(rule)
    return rule


@transaction.atomic
def intent_rule_update(
    *,
    actor: Account,
    rule: IntentRule,
    name: str | None = None,
    keywords: Iterable[str] | None = None,
) -> IntentRule:
    """Change the name and/or the keywords (``None`` keeps a value). A rename renames the
    intent in the groups' scopes too (B4: they name it), from the next buyer on; conversations
    labelled already keep their label."""
    if rule.shop_id != actor.shop_id:  # the entry points load it within the shop already
        raise NotFound(_("No such intent."))
    new_name, cleaned = _cleaned(
        actor=actor,
        name=rule.name if name is None else name,
        keywords=rule.keywords if keywords is None else keywords,
        rule=rule,
    )
    old_name = rule.name
    if new_name != old_name:  # the shop's routing lock before any row: the groups change too
        lock_shop(actor.shop_id)
    rule.name, rule.keywords = new_name, cleaned
    _save(rule, ["name", "keywords"])
    if new_name != old_name:
        scoped = Group.objects.select_for_update().filter(
            shop_id=actor.shop_id, scope_intents__contains=[old_name]
        )
        for group in scoped:
            group.scope_intents = sorted(
                {new_name if i == old_name else i for i in group.scope_intents}
            )
            group.save(update_fields=["scope_intents"])
    return rule


@transaction.atomic
def intent_rule_delete(*, actor: Account, rule: IntentRule) -> None:
    """Remove the rule; conversations already labelled keep their label."""
    IntentRule.objects.filter(shop_id=actor.shop_id, pk=rule.pk).delete()
