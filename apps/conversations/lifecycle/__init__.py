"""The conversation lifecycle: the only writer of a conversation's state (DESIGN, lifecycle).

Ask for a human, assign, queue, pool, re-route, dispatch, transfer, claim, leave and close all
happen here, each in one transaction that takes the shop's routing lock first, then the rows.
Routing (``apps.routing``: the lock, the snapshot, the pure engine) sits below and decides;
automation's policy (``apps.automation``: texts, business hours, the clock rules) sits below and
is reached from one seam, ``automatic``. Entry points (the REST API, the sockets, the back
office, the pages, Celery) call the functions exported here.

Modules, bottom up:

- ``store``: storing one message (the only place a message row is written) and its events;
- ``automatic``: the automatic replies (D1-D4), the seam to ``apps.automation``;
- ``outcomes``: writing the engine's decisions, ``dispatch`` and ``reroute``;
- ``agents``: status, presence expiry, capacity changes and leaving routing;
- ``configuration``: what a settings or group change does to open conversations;
- ``transitions``: what buyers and staff do (open, ask, write, transfer, claim, take over,
  leave, close);
- ``timed``: the silence timeouts (D5, D6) and the pool hand-out (B11), run by the beat tick.
"""

from apps.conversations.lifecycle.agents import (
    agent_left_routing,
    agent_remove,
    agent_set_status,
    agent_state_create,
    capacity_changed,
    load_drift,
    presence_expire,
)
from apps.conversations.lifecycle.configuration import group_removed, settings_changed
from apps.conversations.lifecycle.outcomes import dispatch, reroute
from apps.conversations.lifecycle.timed import (
    agent_silence_act,
    agent_silence_warn,
    buyer_silence_close,
    buyer_silence_warn,
    pool_hand_out,
    timers_run_due,
)
from apps.conversations.lifecycle.transitions import (
    agent_may_write,
    agent_message_send,
    agents_for_buyer_choice,
    buyer_message_send,
    buyer_open_conversation,
    conversation_claim,
    conversation_close,
    conversation_leave,
    conversation_open,
    conversation_rate,
    conversation_take_over,
    conversation_transfer,
    detect_intent,
    message_create,
    queue_push_updates,
    request_human,
    route_pending,
)

__all__ = [
    "agent_left_routing",
    "agent_may_write",
    "agent_message_send",
    "agent_remove",
    "agent_set_status",
    "agent_silence_act",
    "agent_silence_warn",
    "agent_state_create",
    "agents_for_buyer_choice",
    "buyer_message_send",
    "buyer_open_conversation",
    "buyer_silence_close",
    "buyer_silence_warn",
    "capacity_changed",
    "conversation_claim",
    "conversation_close",
    "conversation_leave",
    "conversation_open",
    "conversation_rate",
    "conversation_take_over",
    "conversation_transfer",
    "detect_intent",
    "dispatch",
    "group_removed",
    "load_drift",
    "message_create",
    "pool_hand_out",
    "presence_expire",
    "queue_push_updates",
    "request_human",
    "reroute",
    "route_pending",
    "settings_changed",
    "timers_run_due",
]
