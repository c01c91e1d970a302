"""Request threads of one process share the shop's routing passes (issue 8 item 3, DESIGN:
short critical sections): many buyers asking at once in one server process are all decided,
none twice, nobody over the max, in fewer passes than requests (SPEC C1, N)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from apps.accounts.permissions import Perm
from apps.backoffice import services as account_services
from apps.conversations import lifecycle
from apps.conversations.lifecycle import transitions
from apps.conversations.models import Conversation, State
from apps.routing.models import AgentState, AgentStatus
from apps.shopdata.models import Buyer
from conftest import PASSWORD, make_shop

pytestmark = pytest.mark.slow

THREADS = 24
AGENTS = 4
MAX = 5  # 20 slots for 24 buyers: 4 wait


def test_threads_asking_at_once_share_passes_and_lose_nobody(
    transactional_db, fast_password_hasher, monkeypatch
):
    # given a shop with 20 free slots and 24 buyers whose requests are stored
    kit = make_shop("passes")
    for n in range(AGENTS):
        account = account_services.account_create(
            actor=kit.main,
            name=f"p{n}",
            password=PASSWORD,
            permissions={Perm.CHAT},
            max_concurrent=MAX,
        )
        lifecycle.agent_set_status(account=account, status=AgentStatus.ONLINE)
    AgentState.objects.filter(account=kit.main).update(routing_enabled=False)
    opened = [
        lifecycle.conversation_open(
            buyer=Buyer.objects.create(shop=kit.shop, external_id=f"b{n}"), human=True
        )
        for n in range(THREADS)
    ]
    passes = []
    real = transitions._route_pending

    def counted(shop_id, now, **kwargs):  # type: ignore[no-untyped-def]
        decided = real(shop_id, now, **kwargs)
        passes.append(len(decided))
        return decided

    monkeypatch.setattr(transitions, "_route_pending", counted)
    # when 24 threads of this process ask to be decided at the same moment
    start = threading.Barrier(THREADS)
    answers: dict[int, Conversation] = {}
    errors: list[BaseException] = []

    def ask(conversation: Conversation) -> None:
        try:
            start.wait()
            answers[conversation.pk] = lifecycle.request_human(conversation=conversation)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(c,)) for c in opened]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # then every thread got its own conversation back, decided, as the database has it
    assert not errors, errors
    assert sorted(answers) == sorted(c.pk for c in opened)
    stored = {c.pk: c for c in Conversation.objects.filter(pk__in=answers)}
    for pk, answer in answers.items():
        assert answer.pk == pk
        assert answer.state == stored[pk].state and answer.agent_id == stored[pk].agent_id
    states = sorted(c.state for c in stored.values())
    assert states.count(State.ACTIVE) == AGENTS * MAX
    assert states.count(State.QUEUED) == THREADS - AGENTS * MAX
    # nobody over the max, each request decided once, and fewer passes than requests
    loads = Conversation.objects.filter(state=State.ACTIVE).values_list("agent_id", flat=True)
    assert max(list(loads).count(a) for a in set(loads)) <= MAX
    assert sum(passes) == THREADS
    assert len(passes) < THREADS
