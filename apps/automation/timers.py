"""The conversation's due-at columns (SPEC D5, D6; DESIGN, timers): pure rules, no ORM calls.

Four columns say when the next automatic step of a conversation is due: the buyer warning and
the buyer-silence close (D5), the agent warning and the agent-silence action (D6). The services
call these functions on every message and assignment, under the conversation's row lock, and
save the columns in the same transaction; the periodic tick reads them through partial indexes.

- An agent's message (the welcome included) stops the agent's clock and starts the buyer's.
- A buyer's message stops the buyer's clock and, when the holding agent is online or paused,
  starts the agent's clock unless it already runs (it counts from the first unanswered message).
- An assignment restarts the agent's clock (the buyer asked for a human and waits for an answer);
  a welcome sent right after it turns that into the buyer's clock.
- With the service assistant (before a human was asked for) the buyer's clock runs from the last
  message of either side: an idle conversation ends by buyer silence (DESIGN, lifecycle).
- Queued, pooled and closed conversations have no clock. System notices change nothing.
- A duration of 0 switches that timeout (or warning) off.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from apps.shops.models import ShopSettings


class Clocks(Protocol):
    """What the rules read and move: a conversation's state and its four due-at columns. The
    conversation model satisfies it; this package sits below the conversations (import-linter)."""

    state: str
    buyer_warn_at: datetime | None
    buyer_close_at: datetime | None
    agent_warn_at: datetime | None
    agent_due_at: datetime | None


# The conversation states and message senders these rules look at (their stored values).
ACTIVE, ASSISTANT = "active", "assistant"
BUYER, AGENT, ASSISTANT_SENDER = "buyer", "agent", "assistant"

FIELDS = ("buyer_warn_at", "buyer_close_at", "agent_warn_at", "agent_due_at")


@dataclass(frozen=True)
class Durations:
    buyer_silence: int = 300
    buyer_warning: int = 120
    agent_silence: int = 180
    agent_warning: int = 60

    @classmethod
    def of(cls, settings: ShopSettings) -> Durations:
        return cls(
            buyer_silence=settings.buyer_silence_seconds,
            buyer_warning=settings.buyer_warning_seconds,
            agent_silence=settings.agent_silence_seconds,
            agent_warning=settings.agent_warning_seconds,
        )


def clock(start: datetime, timeout: int, warning: int) -> tuple[datetime | None, datetime | None]:
    """``(warn_at, due_at)`` for a timeout counted from ``start``; a warning only when it comes
    strictly before the timeout."""
    if timeout <= 0:
        return None, None
    due = start + timedelta(seconds=timeout)
    warn = due - timedelta(seconds=warning) if 0 < warning < timeout else None
    return warn, due


def start_buyer_clock(conversation: Clocks, durations: Durations, now: datetime) -> None:
    conversation.buyer_warn_at, conversation.buyer_close_at = clock(
        now, durations.buyer_silence, durations.buyer_warning
    )


def stop_buyer_clock(conversation: Clocks) -> None:
    conversation.buyer_warn_at = conversation.buyer_close_at = None


def start_agent_clock(conversation: Clocks, durations: Durations, now: datetime) -> None:
    conversation.agent_warn_at, conversation.agent_due_at = clock(
        now, durations.agent_silence, durations.agent_warning
    )


def stop_agent_clock(conversation: Clocks) -> None:
    conversation.agent_warn_at = conversation.agent_due_at = None


def stop(conversation: Clocks) -> None:
    stop_buyer_clock(conversation)
    stop_agent_clock(conversation)


def after_message(
    conversation: Clocks,
    *,
    sender: str,
    durations: Durations,
    now: datetime,
    agent_present: bool,
) -> None:
    """Move the clocks for a message just stored on ``conversation`` (in its current state)."""
    state = conversation.state
    if state == ACTIVE:
        if sender == AGENT:
            stop_agent_clock(conversation)
            start_buyer_clock(conversation, durations, now)
        elif sender == BUYER:
            stop_buyer_clock(conversation)
            if not agent_present:
                stop_agent_clock(conversation)  # an offline message: nobody to wait for
            elif conversation.agent_due_at is None:
                start_agent_clock(conversation, durations, now)
    elif state == ASSISTANT:
        if sender in (BUYER, ASSISTANT_SENDER):
            start_buyer_clock(conversation, durations, now)
        stop_agent_clock(conversation)
    else:
        stop(conversation)


def after_assign(
    conversation: Clocks, *, durations: Durations, now: datetime, agent_present: bool
) -> None:
    """A conversation was just handed to an agent: the agent's clock starts afresh."""
    stop(conversation)
    if agent_present:
        start_agent_clock(conversation, durations, now)
