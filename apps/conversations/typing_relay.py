"""Typing indicators (API.md, WebSockets): the one service behind both sockets' ``typing``.

A typing frame is never stored and changes nothing; it is relayed to the other side of an
active conversation as the catalogue's ``typing`` event (``apps.conversations.events.typing``).
Both sockets call ``typing_relay`` with their principal, so the checks are the same as for
writing: an agent only in a conversation it can see (else ``not_found``) and holds (else
``conflict``); a buyer only in its own open conversation (another's is ``not_found``), once an
agent holds it (else ``conflict``)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from apps.accounts.models import Account
from apps.conversations import events
from apps.conversations.lifecycle import agent_may_write, buyer_open_conversation
from apps.conversations.models import Conversation, Sender, State
from apps.conversations.selectors import conversation_get
from apps.core.errors import Conflict, InvalidInput, NotFound
from apps.events.services import LiveEvent
from apps.shopdata.models import Buyer


def _buyers(buyer: Buyer, conversation_id: int | None) -> Conversation:
    """The buyer's open conversation; a named one must be it (another's is not found)."""
    conversation = buyer_open_conversation(buyer=buyer)
    if conversation_id is not None and (conversation is None or conversation.pk != conversation_id):
        own = Conversation.objects.filter(shop_id=buyer.shop_id, buyer=buyer, pk=conversation_id)
        if not own.exists():
            raise NotFound(_("No such conversation."))
        raise Conflict(_("This conversation has ended."))
    if conversation is None or conversation.state != State.ACTIVE or conversation.agent_id is None:
        raise Conflict(_("No agent is with you yet."))
    return conversation


def typing_relay(*, author: Account | Buyer, conversation_id: int | None) -> LiveEvent:
    """The ``typing`` event to relay for ``author`` typing in ``conversation_id`` (the agent
    socket must name it; the buyer's may leave it out: its open conversation)."""
    if isinstance(author, Buyer):
        return events.typing(_buyers(author, conversation_id), Sender.BUYER)
    if conversation_id is None:
        raise InvalidInput(_("Name the conversation by its id."), field="conversation")
    conversation = conversation_get(account=author, conversation_id=conversation_id)
    if not agent_may_write(account=author, conversation=conversation):
        raise Conflict(_("You do not hold this conversation."))
    return events.typing(conversation, Sender.AGENT)
