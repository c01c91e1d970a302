"""A client that applies its events to a REST snapshot holds what a fresh fetch shows (issue 8
item 5; API.md, WebSockets; docs/realtime.md, "Keeping a copy").

The client is the agent workbench's model: the agent's own status (``GET /me/``), the
conversations it holds (``GET /conversations/?state=active&agent=<me>``) and their messages
(``GET /conversations/{id}/messages/``). It takes the head of its stream with the snapshot (a
socket's ``hello.last_seq``), then applies the stored events after it, as a socket resuming with
``?after=`` delivers them (``stream_events``, the consumer's replay), with the small reducer
below. After every step of a seeded sequence of changes (buyers asking and writing, agents
writing, closing, transferring, changing status, time passing with its D5/D6 timeouts, queue
pushes, leaving, claiming), the reduced copy must equal a fresh fetch, field for field.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from apps.accounts.models import Account
from apps.conversations import lifecycle
from apps.conversations.api.serializers import ConversationSerializer
from apps.conversations.models import OPEN_STATES, Conversation, State
from apps.core.errors import DomainError
from apps.events.selectors import stream_events, stream_head
from apps.events.services import to_account
from apps.routing.models import AgentState, AgentStatus
from tests.conversations.conftest import Desk

pytestmark = pytest.mark.django_db

CONVERSATION_FIELDS = list(ConversationSerializer().fields)
HELD = {"conversation.assigned", "conversation.updated", "conversation.transferred"}


@dataclass
class Copy:
    """What the client holds."""

    status: str = ""
    conversations: dict[int, dict[str, Any]] = field(default_factory=dict)
    messages: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)


class AgentClient:
    def __init__(self, desk: Desk, me: Account) -> None:
        self.me = me
        self.api = desk.kit.client(me)
        self.seq = stream_head(to_account(me.pk))  # hello.last_seq, before the REST reads
        self.copy = self.fetch()

    # --- REST ----------------------------------------------------------------------------------

    def pages(self, url: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        next_url: str | None = url
        while next_url:
            response = self.api.get(next_url)
            assert response.status_code == 200, response.content
            rows += response.data["results"]
            next_url = response.data["next"]
        return rows

    def fetch_messages(self, conversation_id: int) -> dict[int, dict[str, Any]]:
        rows = self.pages(f"/api/v1/conversations/{conversation_id}/messages/")
        return {m["seq"]: dict(m) for m in rows}

    def fetch(self) -> Copy:
        me = self.api.get("/api/v1/me/")
        assert me.status_code == 200
        held = self.pages(f"/api/v1/conversations/?state=active&agent={self.me.pk}")
        return Copy(
            status=me.data["status"],
            conversations={c["id"]: dict(c) for c in held},
            messages={c["id"]: self.fetch_messages(c["id"]) for c in held},
        )

    # --- Events --------------------------------------------------------------------------------

    def catch_up(self) -> None:
        while batch := stream_events(to_account(self.me.pk), after=self.seq):
            for event in batch:
                assert event.stream_seq == self.seq + 1  # no gaps
                reduce(self.copy, event.type, event.data, me=self.me.pk, load=self.fetch_messages)
                self.seq = event.stream_seq


def reduce(
    copy: Copy,
    type: str,
    data: dict[str, Any],
    *,
    me: int,
    load: Callable[[int], dict[int, dict[str, Any]]],
) -> None:
    """The client's reducer: conversation events replace the conversation (it is ours while
    active with us, else it leaves the list); a new one loads its messages through REST, as
    the workbench does; ``message.created`` adds the message and moves the conversation's
    ``last_seq`` and, for the first agent message after the request for a human (the welcome
    included, SPEC G3), its ``first_response_at``."""
    if type in HELD:
        conversation = {name: data[name] for name in CONVERSATION_FIELDS}
        pk = conversation["id"]
        if conversation["state"] == State.ACTIVE and conversation["agent"] == me:
            if pk not in copy.conversations:
                copy.messages[pk] = load(pk)
            copy.conversations[pk] = conversation
        else:
            copy.conversations.pop(pk, None)
            copy.messages.pop(pk, None)
    elif type == "conversation.closed":
        copy.conversations.pop(data["id"], None)
        copy.messages.pop(data["id"], None)
    elif type == "message.created":
        conversation = copy.conversations.get(data["conversation"])
        if conversation is None:
            return
        copy.messages[conversation["id"]][data["seq"]] = dict(data)
        conversation["last_seq"] = max(conversation["last_seq"], data["seq"])
        if (
            data["sender"] == "agent"
            and conversation["human_requested_at"] is not None
            and conversation["first_response_at"] is None
        ):
            conversation["first_response_at"] = data["created_at"]
    elif type == "agent.status":
        copy.status = data["status"]


# ---------------------------------------------------------------------------------------------
# The changes


@dataclass
class World:
    desk: Desk
    me: Account
    other: Account
    clock: Any
    rng: random.Random
    buyers: int = 0

    def pick(self, rows: Any) -> Conversation | None:
        rows = list(rows.order_by("pk"))
        return self.rng.choice(rows) if rows else None

    def conversations(self, *states: str) -> Any:
        return Conversation.objects.filter(shop_id=self.desk.shop_id, state__in=states)

    def ask(self) -> None:
        self.buyers += 1
        self.desk.ask(f"buyer-{self.buyers}")

    def buyer_writes(self) -> None:
        c = self.pick(self.conversations(*OPEN_STATES))
        if c is not None:
            lifecycle.buyer_message_send(buyer=c.buyer, entrance="product", body="and now?")

    def agent_writes(self) -> None:
        c = self.pick(self.conversations(State.ACTIVE).exclude(agent=None))
        if c is not None:
            assert c.agent is not None
            lifecycle.agent_message_send(account=c.agent, conversation=c, body="on it")

    def close(self) -> None:
        c = self.pick(self.conversations(State.ACTIVE))
        if c is not None:
            lifecycle.conversation_close(conversation=c, actor=None)

    def transfer(self) -> None:
        c = self.pick(self.conversations(State.ACTIVE).filter(agent__in=[self.me, self.other]))
        if c is not None:
            to = self.other if c.agent_id == self.me.pk else self.me
            assert c.agent is not None
            lifecycle.conversation_transfer(
                conversation=c, actor=c.agent, to_account=to, note="over to you"
            )

    def status(self) -> None:
        """Either agent changes status; away mostly briefly (the next change of it is online)."""
        who = self.rng.choice([self.me, self.other])
        now = AgentState.objects.get(account=who).status
        if now != AgentStatus.ONLINE:
            status = AgentStatus.ONLINE
        else:
            status = AgentStatus(self.rng.choice(["paused", "offline"]))
        lifecycle.agent_set_status(account=who, status=status)

    def time_passes(self) -> None:
        self.clock.shift(self.rng.choice([30, 70, 130]))
        lifecycle.timers_run_due()

    def queue_push(self) -> None:
        lifecycle.queue_push_updates(shop_id=self.desk.shop_id)

    def leave(self) -> None:
        c = self.pick(self.conversations(State.QUEUED, State.ACTIVE))
        if c is not None:
            lifecycle.conversation_leave(conversation=c)

    def claim(self) -> None:
        c = self.pick(self.conversations(State.POOLED))
        if c is not None:
            lifecycle.conversation_claim(conversation=c, actor=self.me)


STEPS = [
    ("ask", 5),
    ("buyer_writes", 4),
    ("agent_writes", 4),
    ("close", 2),
    ("transfer", 2),
    ("status", 3),
    ("time_passes", 2),
    ("queue_push", 1),
    ("leave", 1),
    ("claim", 1),
]


@pytest.mark.parametrize("seed", [1, 2])
def test_events_applied_to_a_snapshot_equal_a_fresh_fetch(desk, clock, seed):
    # given a shop of two agents and a few buyers already there, and the agent's client
    desk.settings(
        language="en",
        default_max_concurrent=2,
        agent_silence_action="reassign",
        offline_handling="pool",
    )
    me = desk.agent("me", weight=30)
    other = desk.agent("other", weight=10)
    world = World(desk, me, other, clock, random.Random(seed))
    for _ in range(3):
        world.ask()
    client = AgentClient(desk, me)
    names = [name for name, weight in STEPS for _ in range(weight)]
    done: list[str] = []
    for _ in range(40):
        # when something happens
        step = world.rng.choice(names)
        with contextlib.suppress(DomainError):  # a refused action changes nothing
            getattr(world, step)()
        done.append(step)
        # then the copy the client keeps from its events is what a fresh fetch shows
        client.catch_up()
        assert client.copy == client.fetch(), f"after {done}"
    assert {"ask", "agent_writes", "close"} <= set(done)
