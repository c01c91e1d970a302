"""The periodic jobs of config/celery.py: registered, short-lived, idempotent (SPEC B11, D5, D6;
DESIGN, events and timers)."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction

from apps.conversations.models import State
from apps.conversations.tasks import pool_hand_out
from apps.events.models import Event
from apps.events.services import emit, to_buyer
from apps.events.tasks import delete_expired
from apps.routing.models import AgentState, AgentStatus
from config.celery import app


def test_every_beat_entry_names_a_registered_task_and_expires_by_its_next_run():
    app.loader.import_default_modules()
    schedule = app.conf.beat_schedule
    for name in ("silence-timeouts", "pool-hand-out"):
        entry = schedule[name]
        assert entry["task"] in app.tasks, name
        assert entry["options"]["expires"] <= entry["schedule"].total_seconds()
    assert schedule["events-delete-expired"]["task"] in app.tasks
    assert schedule["silence-timeouts"]["schedule"] <= timedelta(seconds=10)
    # tasks are acknowledged after they ran and handed back when a worker dies (STYLE 8)
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost


def test_pooled_conversations_are_handed_to_an_agent_who_became_free(clock, desk, desk_b):
    # given shop A's message pool with auto-assign on, shop B's with it off
    for d, auto in ((desk, True), (desk_b, False)):
        d.settings(offline_handling="pool", pool_auto_assign=auto)
    a = desk.agent("a", status="offline")
    b = desk_b.agent("b", status="offline")
    pooled_a = desk.ask("pa")
    pooled_b = desk_b.ask("pb")
    assert (pooled_a.state, pooled_b.state) == (State.POOLED, State.POOLED)
    # when both agents are online but the moment was missed (no dispatch ran)
    AgentState.objects.filter(account__in=[a, b]).update(status=AgentStatus.ONLINE)
    # then the periodic hand-out gives shop A's buyer to its agent, marked as an offline message
    assert pool_hand_out() == 1
    pooled_a = desk.fresh(pooled_a)
    assert (pooled_a.state, pooled_a.agent_id) == (State.ACTIVE, a.pk)
    assert pooled_a.from_offline_message
    # and leaves shop B's pool to be claimed by hand
    assert desk_b.fresh(pooled_b).state == State.POOLED
    # running again changes nothing
    assert pool_hand_out() == 0


def test_event_retention_drops_only_events_past_the_retention_and_can_run_twice(clock, desk):
    buyer = desk.buyer("b1")
    with transaction.atomic():
        emit(shop_id=desk.shop_id, recipients=[to_buyer(buyer.pk)], type="t.old", data={})
    clock.shift(timedelta(hours=25))
    with transaction.atomic():
        emit(shop_id=desk.shop_id, recipients=[to_buyer(buyer.pk)], type="t.new", data={})
    assert delete_expired() == 1
    assert delete_expired() == 0
    assert list(Event.objects.values_list("type", "stream_seq")) == [("t.new", 2)]
