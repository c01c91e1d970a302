"""A shop for load tests against a real server, made through the product's services in a process
of its own on the server's database (``python -m tests.realtime.seed '<json>'``, the server's
``DATABASE_URL`` in the environment): far faster than the REST API for what a test does not
measure (password hashing for fifty accounts, five hundred widget sessions).

Input (JSON): ``slug``, ``agents``, ``max_concurrent``, ``buyers``. Output on stdout (JSON):
``{"slug", "main_token", "agents": [{"id", "token"}], "buyers": [{"external_id", "token"}]}``.
The main account takes no buyers; the agents (``chat``) are online; the buyers have a signed
widget session each and no conversation yet.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
from typing import Any


def seed(slug: str, agents: int, max_concurrent: int, buyers: int) -> dict[str, Any]:
    from django.test.utils import override_settings

    from apps.accounts.permissions import Perm
    from apps.backoffice import services as accounts
    from apps.conversations.buyers import widget_session_start
    from apps.conversations.lifecycle import agent_set_status
    from apps.routing.models import AgentStatus
    from apps.shops.models import Shop, ShopSettings

    password = "seeded-load-test-2026"
    # The server never checks these passwords (tokens only): the fast hasher saves seconds.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        signup = accounts.shop_signup(slug=slug, name=slug, password=password)
        main = signup.account
        Shop.objects.filter(pk=signup.shop.pk).update(sub_account_quota=agents + 1)
        main.shop.refresh_from_db()
        accounts.account_update(actor=main, account=main, routing_enabled=False)
        made = []
        for i in range(agents):
            account = accounts.account_create(
                actor=main,
                name=f"agent{i}",
                password=password,
                permissions={Perm.CHAT},
                max_concurrent=max_concurrent,
            )
            agent_set_status(account=account, status=AgentStatus.ONLINE)
            made.append({"id": account.pk, "token": accounts.token_for(account)})
    secret = ShopSettings.objects.values_list("widget_secret", flat=True).get(shop=signup.shop)
    sessions = []
    for i in range(buyers):
        external_id = f"buyer-{i}"
        signature = hmac.new(secret.encode(), external_id.encode(), hashlib.sha256).hexdigest()
        session = widget_session_start(
            shop=slug,
            entrance="product",
            name=external_id,
            buyer_id=external_id,
            signature=signature,
        )
        sessions.append({"external_id": external_id, "token": session.token})
    return {"slug": slug, "main_token": signup.token, "agents": made, "buyers": sessions}


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    args = json.loads(argv[0])
    result = seed(args["slug"], args["agents"], args["max_concurrent"], args["buyers"])
    sys.stdout.write(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
