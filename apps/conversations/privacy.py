"""Messages as staff without ``view_buyer_info`` receive them (SPEC I6; docs/safety.md).

The stored message, the buyer's copy and the shop's webhooks keep the text as written; what a
staff account without the permission is given (REST answers, its socket's events, the history
page) has phone numbers and addresses masked (``apps.safety.pii``), built from the one payload
(``payloads.message_payload``) at the moment it is handed over: the lifecycle's hot paths build
and store each event once, as before, and pay nothing for this. On the agent socket the masking
happens at delivery, per socket (``consumers.agent.AgentConsumer.shape``), which reads the
permission when it connects and again when it changes (``apps.accounts.permissions.set_perms``
pushes ``access.changed``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from apps.accounts.models import Account, ShopAccountPermission
from apps.accounts.permissions import Perm
from apps.conversations import events
from apps.conversations.payloads import MessageData
from apps.safety import redact
from apps.safety.pii import mask_text

# Who writes what a message's body holds: the buyer and the agents. The shop's own texts
# (greetings, notices, the assistant) are left as written.
_WRITTEN_BY_PEOPLE = frozenset({"buyer", "agent"})
MESSAGE_EVENTS = frozenset({events.MESSAGE_CREATED, events.MESSAGE_UPDATED})


def sees_buyer_info(account: Account) -> bool:
    """SPEC I6: the main account, and sub-accounts given ``view_buyer_info`` (``has_perm``'s
    answer in one query, not guardian's two: permissions are granted to accounts, never to
    groups, ``apps.accounts.permissions.set_perms``)."""
    if not account.is_active:
        return False
    if account.is_main:
        return True
    return ShopAccountPermission.objects.filter(
        user_id=account.pk,
        content_object_id=account.shop_id,
        permission__codename=Perm.VIEW_BUYER_INFO.value,
    ).exists()


def masked_message(data: MessageData) -> MessageData:
    """A copy of ``data`` with its phone numbers and addresses masked."""
    masked = cast(MessageData, dict(data))
    if data["sender"] in _WRITTEN_BY_PEOPLE and data["body"]:
        masked["body"] = mask_text(data["body"])
    if data["card"] is not None:
        masked["card"] = redact.card(data["card"], data["kind"])  # type: ignore[arg-type]
    return masked


def _same(data: MessageData) -> MessageData:
    return data


def message_view(account: Account) -> Callable[[MessageData], MessageData]:
    """How messages reach ``account``: as they are, or masked (one permission check)."""
    return _same if sees_buyer_info(account) else masked_message


def masked_event(event_type: str, data: Any) -> Any:
    """A stream event's data for a socket that may not see buyers' personal information."""
    if event_type in MESSAGE_EVENTS and isinstance(data, dict) and "body" in data:
        return masked_message(cast(MessageData, data))
    return data
