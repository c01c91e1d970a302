"""One routing client of the race test, in its own spawned process with its own connection.

Nothing from Django is imported at module level: the parent pickles ``run`` by name, and the
child must point Django at the test database before setting it up.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from typing import Any

STATUSES = ["online", "paused", "offline", "online"]
MAXIMA = [1, 2, 3]


def run(
    db_name: str,
    shop_id: int,
    index: int,
    ops: int,
    flappers: list[int],
    seed: int,
    barrier: Any,
    results: Any,
) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DEBUG"] = "false"  # as the test runner does: no query log
    from django.conf import settings

    # The test database of the parent (pytest-django), never the development one.
    settings.DATABASES["default"]["NAME"] = db_name
    import django

    django.setup()

    from django.db import connection

    from apps.accounts.models import Account
    from apps.backoffice import services as account_services
    from apps.conversations import lifecycle as conv
    from apps.conversations.lifecycle import agent_set_status
    from apps.conversations.models import Conversation, Sender, State
    from apps.routing.models import AgentStatus
    from apps.shopdata.models import Buyer

    if os.environ.get("RACE_WITHOUT_LOCK"):  # mutation check: the test must then fail
        import apps.conversations.lifecycle as conversation_services
        import apps.conversations.lifecycle as routing_services

        def no_lock(shop_id: int) -> None:
            return None

        routing_services.lock_shop = no_lock
        conversation_services.lock_shop = no_lock  # type: ignore[attr-defined]

    assert connection.settings_dict["NAME"] == db_name
    rng = random.Random(seed)
    buyers = list(Buyer.objects.filter(shop_id=shop_id, external_id__startswith=f"w{index}-"))
    agents = {a.pk: a for a in Account.objects.filter(pk__in=flappers).select_related("shop")}
    main = Account.objects.get(shop_id=shop_id, kind="main")
    held: dict[int, Conversation] = {}  # buyer -> its open conversation
    stats: Counter[str] = Counter()
    asked: list[int] = []
    errors: list[str] = []
    barrier.wait(timeout=120)  # everyone starts together
    started = time.monotonic()
    # ``ops`` requests and closes (ask, close, leave); status, max and message calls come on top.
    for _ in range(ops * 2):
        if stats["ask"] + stats["close"] + stats["leave"] >= ops:
            break
        try:
            roll = rng.random()
            if flappers and roll < 0.05:
                account = agents[rng.choice(flappers)]
                agent_set_status(account=account, status=AgentStatus(rng.choice(STATUSES)))
                stats["status"] += 1
                continue
            if flappers and roll < 0.07:  # an agent or the main account changes a max (C1)
                account = agents[rng.choice(flappers)]
                maximum = rng.choice(MAXIMA)
                if rng.random() < 0.5:
                    account_services.me_update(account=account, max_concurrent=maximum)
                else:
                    account_services.account_update(
                        actor=main, account=account, max_concurrent=maximum
                    )
                stats["max"] += 1
                continue
            buyer = rng.choice(buyers)
            c = held.get(buyer.pk)
            if c is None:
                c = conv.request_human(conversation=conv.conversation_open(buyer=buyer))
                held[buyer.pk] = c
                asked.append(c.pk)
                stats["ask"] += 1
                continue
            roll = rng.random()
            if roll < 0.06:
                conv.message_create(conversation=c, sender=Sender.BUYER, body="still there?")
                stats["message"] += 1
                continue
            if roll < 0.2:
                conv.conversation_leave(conversation=c)  # C5: pooled if it wrote, else closed
                stats["leave"] += 1
            else:
                conv.conversation_close(conversation=c, actor=None)
                stats["close"] += 1
            if Conversation.objects.get(pk=c.pk).state == State.CLOSED:
                del held[buyer.pk]
        except Exception as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            errors.append(f"{type(error).__name__}: {first}")
    stats["seconds_x1000"] = int((time.monotonic() - started) * 1000)
    connection.close()
    results.put((index, dict(stats), asked, errors))
