"""Real exhaustion and real outages against a real server (issue 8, item 4; SPEC N): a request
that finds no database connection within the pool's timeout is answered 503 with
``Retry-After``, a socket that finds none is closed with 1013 (Try Again Later), and so is a
socket whose Redis is down at the handshake; never a 500 or 1011. The requests that held the
connections still complete once the database lets them go, and the server recovers.
(tests/core/test_unavailable.py checks the mapping itself; tests/realtime/test_connections.py
shows that ordinary load, 200 requests at once, gets no 503.)"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.ops.launcher import free_port

from .servers import (
    Server,
    seed_shop,
    server_database,
    server_redis,
    uvicorn_server,
    with_query,
)

pytestmark = pytest.mark.slow

APP_NAME = "helpdesk-test-unavailable"
TINY_POOL = {
    "HELPDESK_DB_POOL_MIN": "1",
    "HELPDESK_DB_POOL_MAX": "2",
    "HELPDESK_DB_POOL_TIMEOUT": "1",
}


@pytest.fixture(scope="module")
def shop_database() -> Iterator[tuple[str, str, dict[str, Any]]]:
    with server_database() as database, server_redis() as redis_url:
        shop = seed_shop(database, redis_url, slug="outage", agents=2, max_concurrent=5, buyers=2)
        yield database, redis_url, shop


async def socket_close_code(server: Server, path: str) -> int | None:
    """The code the server closes a fresh socket with (None: it stayed open, the hello came)."""
    async with connect(
        server.ws + path,
        origin=server.base,  # type: ignore[arg-type]
        proxy=None,
        open_timeout=15,
    ) as ws:
        try:
            async with asyncio.timeout(15):
                frame = json.loads(await ws.recv())
        except ConnectionClosed:
            assert ws.protocol.close_rcvd is not None
            return ws.protocol.close_rcvd.code
        assert frame["type"] == "hello", frame
        return None


def server_connections(database: str) -> int:
    url = urlsplit(database)
    with psycopg.connect(
        host=url.hostname,
        port=url.port or 5432,
        user=url.username or "postgres",
        dbname="postgres",
        autocommit=True,
    ) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
            "AND backend_type = 'client backend'",
            [APP_NAME],
        ).fetchone()
        assert row is not None
        return int(row[0])


def waiting_on_lock(database: str, count: int) -> bool:
    url = urlsplit(database)
    with psycopg.connect(
        host=url.hostname,
        port=url.port or 5432,
        user=url.username or "postgres",
        dbname="postgres",
        autocommit=True,
    ) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
            "AND wait_event_type = 'Lock'",
            [APP_NAME],
        ).fetchone()
        return row is not None and int(row[0]) >= count


async def test_an_exhausted_pool_answers_503_and_closes_sockets_1013(shop_database, tmp_path):
    database, redis_url, shop = shop_database
    staff = [f"Token {a['token']}" for a in shop["agents"]]
    buyer = shop["buyers"][0]["token"]
    url = with_query(database, application_name=APP_NAME)
    with uvicorn_server(url, redis_url, tmp_path / "server.log", env=TINY_POOL) as server:
        # given a pool of 2 whose both connections are held: two staff requests wait on a lock
        # that another client holds on the table their authentication reads
        async with httpx.AsyncClient(base_url=server.base, timeout=30, trust_env=False) as http:
            with psycopg.connect(database) as holder:
                holder.execute("LOCK TABLE authtoken_token IN ACCESS EXCLUSIVE MODE")
                held = [
                    asyncio.ensure_future(
                        http.get("/api/v1/conversations/", headers={"Authorization": auth})
                    )
                    for auth in staff
                ]
                deadline = time.monotonic() + 15
                while not await asyncio.to_thread(waiting_on_lock, database, 2):
                    assert time.monotonic() < deadline, "the staff requests never took the pool"
                    await asyncio.sleep(0.1)

                # when a buyer's request needs a connection, then it waits the pool's timeout
                # (1 s) and gets 503 with Retry-After, in JSON
                started = time.monotonic()
                answer = await http.get(
                    "/api/v1/widget/conversation/", headers={"Authorization": f"Buyer {buyer}"}
                )
                assert answer.status_code == 503, answer.text
                assert answer.headers["Retry-After"] == "5"
                assert answer.json()["code"] == "unavailable"
                assert time.monotonic() - started >= 0.9
                # and a socket that needs one is accepted and closed with 1013, never a 500
                assert await socket_close_code(server, f"/ws/widget/?token={buyer}") == 1013
                # and the process never held more than its pool
                assert await asyncio.to_thread(server_connections, database) <= 2
                holder.rollback()  # the lock goes

            # then the held requests complete normally, and the server serves again
            assert [r.status_code for r in await asyncio.gather(*held)] == [200, 200]
            again = await http.get(
                "/api/v1/widget/conversation/", headers={"Authorization": f"Buyer {buyer}"}
            )
            assert again.status_code == 404  # the ordinary answer: no conversation yet
            assert await socket_close_code(server, f"/ws/widget/?token={buyer}") is None
        log = (tmp_path / "server.log").read_text()
        assert "Traceback" not in log, log[-3000:]


async def test_redis_down_at_the_handshake_closes_sockets_1013_not_500(shop_database, tmp_path):
    database, _redis_url, shop = shop_database
    nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    buyer = shop["buyers"][1]["token"]
    agent = shop["agents"][0]["token"]
    with uvicorn_server(database, nowhere, tmp_path / "server.log", ready="/healthz") as server:
        # the buyer's and the agent's sockets: accepted, then closed with 1013
        assert await socket_close_code(server, f"/ws/widget/?token={buyer}") == 1013
        assert await socket_close_code(server, f"/ws/agent/?token={agent}") == 1013
        # and an HTTP request that needs Redis (the widget session's throttle) is a 503
        async with httpx.AsyncClient(base_url=server.base, timeout=30, trust_env=False) as http:
            answer = await http.post(
                "/api/v1/widget/session/",
                json={"shop": shop["slug"], "entrance": "product", "buyer_id": "someone"},
            )
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"] == "5"
        log = (tmp_path / "server.log").read_text()
        assert "Exception in ASGI application" not in log, log[-3000:]


async def test_a_socket_whose_frame_waits_on_the_database_keeps_answering_pings(
    shop_database, tmp_path
):
    # issue 8, item 4: uvicorn stops reading a socket while a frame waits for the application;
    # a message.send waiting on a locked row with the next frame behind it used to leave the
    # keepalive pongs unread and uvicorn closed the socket with 1011 "keepalive ping timeout"
    # (the benchmark's agents, who answer many buyers).
    # Here uvicorn pings every 0.5 s and gives up after 1 s; the row stays locked for 4 s.
    database, redis_url, shop = shop_database
    buyer = shop["buyers"][0]["token"]
    tokens = {a["id"]: a["token"] for a in shop["agents"]}
    fast_pings = {"UVICORN_WS_PING_INTERVAL": "0.5", "UVICORN_WS_PING_TIMEOUT": "1"}
    log = tmp_path / "server.log"
    with uvicorn_server(database, redis_url, log, env=fast_pings) as server:
        async with httpx.AsyncClient(base_url=server.base, timeout=30, trust_env=False) as http:
            asked = await http.post(
                "/api/v1/widget/conversation/",
                json={"human": True},
                headers={"Authorization": f"Buyer {buyer}"},
            )
        conversation = asked.json()
        assert conversation["state"] == "active", conversation
        async with connect(
            f"{server.ws}/ws/agent/?token={tokens[conversation['agent']]}",
            origin=server.base,  # type: ignore[arg-type]
            proxy=None,
            ping_interval=None,  # the server pings; the client library answers
        ) as ws:
            assert json.loads(await ws.recv())["type"] == "hello"
            with psycopg.connect(database) as holder:
                holder.execute(
                    "SELECT 1 FROM conversations_conversation WHERE id = %s FOR UPDATE",
                    [conversation["id"]],
                )
                send = {
                    "type": "message.send",
                    "conversation": conversation["id"],
                    "body": "one moment please",
                    "client_id": "slow-1",
                }
                await ws.send(json.dumps(send))
                # and the client's heartbeat arrives while the first frame waits: uvicorn holds
                # it until the application takes it, and reads nothing meanwhile
                await ws.send(json.dumps({"type": "ping"}))
                await asyncio.sleep(4)  # 8 server pings, each to be answered within 1 s
                holder.rollback()
            async with asyncio.timeout(15):
                while (frame := json.loads(await ws.recv()))["type"] != "ack":
                    pass
            assert frame["data"]["client_id"] == "slow-1" and frame["data"]["created"] is True
            assert ws.protocol.close_rcvd is None  # still open
