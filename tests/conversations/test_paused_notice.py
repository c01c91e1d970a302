"""Seed 001 (挂起): an agent who pauses stops receiving buyers, and the buyers it holds are told
it stepped away, so that none of them waits without knowing why (issue 9)."""

from __future__ import annotations

import pytest

from apps.conversations.models import Message, MessageKind, Sender, State

pytestmark = pytest.mark.django_db

EN_DEFAULT = (
    "Your agent has stepped away for a moment and will answer you as soon as they are back. "
    "Your messages are kept."
)


def notices(conversation) -> list[str]:
    return list(
        Message.objects.filter(
            conversation=conversation, sender=Sender.SYSTEM, kind=MessageKind.NOTICE
        )
        .order_by("seq")
        .values_list("body", flat=True)
    )


def test_pausing_tells_each_buyer_the_agent_holds_once(desk):
    desk.settings(language="en")
    agent = desk.agent("a", max_concurrent=5)
    held = [desk.ask(f"b{n}") for n in range(2)]
    assert all(c.state == State.ACTIVE and c.agent_id == agent.pk for c in held)
    other = desk.agent("b", max_concurrent=5)
    theirs = desk.ask("b-other")
    assert theirs.agent_id == other.pk  # the least loaded (B5)
    # when the agent pauses
    desk.status(agent, "paused")
    # then each of its buyers is told, in the shop's language, and nobody else
    for conversation in held:
        assert notices(conversation)[-1:] == [EN_DEFAULT]
    assert EN_DEFAULT not in notices(theirs)
    # pausing again, or resuming, says nothing more
    desk.status(agent, "paused")
    desk.status(agent, "online")
    for conversation in held:
        assert notices(conversation).count(EN_DEFAULT) == 1


def test_the_shops_own_text_and_its_switch(desk):
    agent = desk.agent("a", max_concurrent=5)
    conversation = desk.ask("b1")
    desk.settings(paused_text="客服暂时离开，马上回来～")
    desk.status(agent, "paused")
    assert notices(conversation)[-1] == "客服暂时离开，马上回来～"
    # switched off: no notice
    desk.status(agent, "online")
    desk.settings(paused_enabled=False)
    desk.status(agent, "paused")
    assert notices(conversation).count("客服暂时离开，马上回来～") == 1


def test_going_offline_is_not_a_pause(desk):
    desk.settings(language="en", offline_routing=False)
    agent = desk.agent("a", max_concurrent=5)
    conversation = desk.ask("b1")
    desk.status(agent, "offline")
    assert EN_DEFAULT not in notices(conversation)
