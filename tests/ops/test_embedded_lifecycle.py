"""The lifecycle in the embedded mode (SQLite, no PostgreSQL or Redis: what `make run` falls back
to): a burst's routing pass, the queueing replies and closing with a waiting buyer, in a real
process on a real SQLite file. The hot paths have PostgreSQL-only round-trip savings
(apps.core.prepared) with plain fallbacks; this runs the fallbacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .launcher import BASE_DIR

pytestmark = pytest.mark.slow

SCRIPT = """
import json
from apps.accounts.permissions import Perm
from apps.backoffice import services as bo
from apps.conversations import lifecycle
from apps.conversations.models import Conversation
from apps.routing.models import AgentState, AgentStatus
from apps.shopdata.models import Buyer
from conftest import PASSWORD, make_shop

kit = make_shop("embedded")
AgentState.objects.filter(account=kit.main).update(routing_enabled=False)
agent = bo.account_create(
    actor=kit.main, name="a1", password=PASSWORD, permissions={Perm.CHAT}, max_concurrent=1
)
lifecycle.agent_set_status(account=agent, status=AgentStatus.ONLINE)
opened = [
    lifecycle.conversation_open(
        buyer=Buyer.objects.create(shop=kit.shop, external_id=f"b{i}"), human=True
    )
    for i in range(3)
]
decided = lifecycle.route_pending(shop_id=kit.shop.pk)
lifecycle.conversation_close(conversation=Conversation.objects.get(pk=opened[0].pk), actor=agent)
rows = Conversation.objects.order_by("pk")
print(json.dumps({
    "decided": decided,
    "states": [c.state for c in rows],
    "said": [[m.body for m in c.messages.order_by("seq")] for c in rows],
}))
"""


def test_routing_queueing_and_closing_work_on_sqlite(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
        "HELPDESK_EMBEDDED": "1",
        "EMBEDDED_SQLITE_PATH": str(tmp_path / "embedded.sqlite3"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    manage = [sys.executable, str(BASE_DIR / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, cwd=BASE_DIR, check=True, timeout=120)
    run = subprocess.run(
        [*manage, "shell", "-c", SCRIPT],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    # one pass decided the three requests: one assigned (max 1), two queued in order
    assert out["decided"] == 3
    said = out["said"]
    assert "第1位" in said[1][1] and "第2位" in said[2][1]  # their places, in their replies
    # closing the first hands its slot to the head of the queue, with the welcome
    assert out["states"] == ["closed", "active", "queued"]
    assert len(said[1]) == 3  # greeting, queueing reply, welcome
