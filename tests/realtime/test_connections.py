"""Bounded connections under load (issue 8, item 4 and must-show 4; DESIGN, connections): ONE
real server process with the product's default pool, socket threads and channel layer serves
500 buyer sockets and 50 agent sockets chatting both ways, a 32-way burst of buyers asking for a
human and 200 HTTP requests at once, and through all of it

* no HTTP answer is a 5xx (nor a 503: that is for real exhaustion, tests/realtime/
  test_unavailable.py), no socket is closed with 1011 (nor closed at all by the server);
* every message the server acknowledged reaches the other side's socket exactly once;
* the process never holds more PostgreSQL connections than its configured pool
  (``pg_stat_activity``, sampled every 50 ms, by the server's ``application_name``).

Only the per-address throttles are raised (all the load comes from one loopback address) and
``DEBUG`` is off as in production, as the benchmarks do. The shop, its agents and the buyers'
widget sessions are made through the services in a process of their own
(``tests.realtime.seed``); everything measured goes through the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from django.conf import settings
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from .servers import (
    Server,
    seed_shop,
    server_database,
    server_redis,
    uvicorn_server,
    with_query,
)

pytestmark = pytest.mark.slow

BUYERS = 500
AGENTS = 50
PER_AGENT = 12  # room for every buyer: 50 x 12 = 600 >= 500
BURST = 32  # requests in flight while the buyers ask for a human (issue 8, item 3)
CONCURRENT = 200  # HTTP requests at once
ROUNDS = 1  # messages each buyer writes; each is answered by its agent over its socket
CHAT_SPREAD = 20.0  # seconds over which the buyers' messages are spread: 25 a second, more
# than one process handles on this 2-core machine (about 15 with the answers), so it has to
# queue them without closing anyone
DELIVERY_TIMEOUT = 150.0
APP_NAME = "helpdesk-test-conns"
SERVER_ENV = {
    "DEBUG": "false",  # as deployed (DJANGO_ENV=production); nothing else but the throttles
    # per-address limits: all the load comes from 127.0.0.1
    "THROTTLE_AUTH": "100000/min",
    "THROTTLE_WIDGET": "100000/min",
    "THROTTLE_SIGNUP": "100000/hour",
}


def configured_pool_size() -> int:
    """The pool size the server reads from the same environment (HELPDESK_DB_POOL_MAX or its
    default): the server inherits this process's environment but for its database URL."""
    pool = settings.DATABASES["default"]["OPTIONS"]["pool"]
    return int(pool["max_size"])


@dataclass
class Sampler:
    """``pg_stat_activity`` of the server's database every ``every`` seconds, from the
    ``postgres`` database (so the sampler is not counted), in a thread of its own."""

    base_url: str
    database: str
    every: float = 0.05
    held: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        url = urlsplit(self.base_url)
        with psycopg.connect(
            host=url.hostname,
            port=url.port or 5432,
            user=url.username or "postgres",
            password=url.password,
            dbname="postgres",
            autocommit=True,
        ) as conn:
            while not self._stop.is_set():
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                    "AND application_name = %s AND backend_type = 'client backend'",
                    [self.database, APP_NAME],
                ).fetchone()
                assert row is not None
                self.held.append(int(row[0]))
                self._stop.wait(self.every)

    @contextlib.contextmanager
    def running(self) -> Iterator[Sampler]:
        thread = threading.Thread(target=self.run, name="pg-sampler", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(10)


@dataclass
class Loaded:
    server: Server
    shop: dict[str, Any]
    sampler: Sampler
    conversations: dict[str, dict[str, Any]]  # buyer external id -> its conversation
    statuses: Counter[int]  # every HTTP status the server answered in this module


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """The server, a shop with 50 agents online, 500 buyers with a widget session, who asked
    for a human over HTTP, 32 requests in flight, and were all assigned."""
    log = tmp_path_factory.mktemp("conns") / "server.log"
    with server_database() as database, server_redis() as redis_url:
        name = urlsplit(database).path.strip("/")
        shop = seed_shop(
            database,
            redis_url,
            slug="conns",
            agents=AGENTS,
            max_concurrent=PER_AGENT,
            buyers=BUYERS,
        )
        server_url = with_query(database, application_name=APP_NAME)
        with (
            uvicorn_server(server_url, redis_url, log, env=SERVER_ENV) as server,
            Sampler(database, name).running() as sampler,
        ):
            statuses: Counter[int] = Counter()
            conversations = asyncio.run(ask_for_humans(server, shop, statuses))
            yield Loaded(server, shop, sampler, conversations, statuses)
            assert "Traceback" not in log.read_text(errors="replace"), log.read_text()[-5000:]


def http_client(server: Server, limit: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.base,
        timeout=httpx.Timeout(60.0),
        limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
        trust_env=False,
    )


async def call(
    client: httpx.AsyncClient, statuses: Counter[int], method: str, path: str, auth: str, **kw: Any
) -> httpx.Response:
    response = await client.request(method, path, headers={"Authorization": auth}, **kw)
    statuses[response.status_code] += 1
    return response


async def ask_for_humans(
    server: Server, shop: dict[str, Any], statuses: Counter[int]
) -> dict[str, dict[str, Any]]:
    semaphore = asyncio.Semaphore(BURST)
    async with http_client(server, BURST) as client:

        async def ask(buyer: dict[str, Any]) -> tuple[str, dict[str, Any]]:
            async with semaphore:
                response = await call(
                    client,
                    statuses,
                    "POST",
                    "/api/v1/widget/conversation/",
                    f"Buyer {buyer['token']}",
                    json={"human": True},
                )
            assert response.status_code in (200, 201), response.text
            return buyer["external_id"], response.json()

        pairs = await asyncio.gather(*(ask(b) for b in shop["buyers"]))
    return dict(pairs)


def test_a_burst_of_buyers_asking_for_a_human_is_answered_and_assigned(loaded: Loaded) -> None:
    # issue 8, must-show 4: the 32-way burst without a 503 (or any 5xx)
    assert sum(n for status, n in loaded.statuses.items() if status >= 500) == 0, loaded.statuses
    states = Counter(c["state"] for c in loaded.conversations.values())
    assert states == {"active": BUYERS}, states
    assert max(loaded.sampler.held) <= configured_pool_size()


async def test_one_process_answers_200_requests_at_once(loaded: Loaded) -> None:
    # issue 8, must-show 4: 200 concurrent HTTP requests with the default settings, no 503
    agents = loaded.shop["agents"]
    buyers = loaded.shop["buyers"]
    statuses: Counter[int] = Counter()
    async with http_client(loaded.server, CONCURRENT) as client:
        staff = [
            call(client, statuses, "GET", "/api/v1/conversations/", f"Token {a['token']}")
            for a in agents * (CONCURRENT // 2 // len(agents))
        ]
        widget = [
            call(client, statuses, "GET", "/api/v1/widget/conversation/", f"Buyer {b['token']}")
            for b in buyers[: CONCURRENT - len(staff)]
        ]
        requests: list[Awaitable[httpx.Response]] = [*staff, *widget]
        assert len(requests) == CONCURRENT
        responses = await asyncio.gather(*requests)
    assert statuses == {200: CONCURRENT}, statuses
    # the agents see their own buyers, the buyers their own conversation
    assert all(r.json() for r in responses)
    assert max(loaded.sampler.held) <= configured_pool_size()


@dataclass
class Peer:
    """One client socket: a reader task counts what arrives."""

    ws: ClientConnection
    hello: dict[str, Any]
    created: Counter[int] = field(default_factory=Counter)  # message id -> times received
    acks: dict[str, dict[str, Any]] = field(default_factory=dict)  # client_id -> ack data
    errors: list[dict[str, Any]] = field(default_factory=list)
    closed: tuple[int | None, str] | None = None  # (code, reason) the server closed with
    on_message: Callable[[dict[str, Any]], None] | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def open(cls, server: Server, path: str, failures: list[str]) -> Peer | None:
        try:
            ws = await connect(
                server.ws + path,
                origin=server.base,  # type: ignore[arg-type]
                proxy=None,
                open_timeout=60,
                ping_interval=None,  # as a browser: the server pings, the client answers
                max_queue=None,
            )
        except InvalidStatus as exc:
            failures.append(f"handshake {exc.response.status_code}")
            return None
        hello = json.loads(await asyncio.wait_for(ws.recv(), 60))
        assert hello["type"] == "hello", hello
        peer = cls(ws, hello)
        peer.tasks.append(asyncio.ensure_future(peer._read()))
        peer.tasks.append(asyncio.ensure_future(peer._ping()))
        return peer

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                kind = frame["type"]
                if kind == "ack":
                    self.acks[frame["data"]["client_id"]] = frame["data"]
                elif kind == "message.created":
                    self.created[frame["data"]["id"]] += 1
                    if self.on_message is not None:
                        self.on_message(frame["data"])
                elif kind == "error":
                    self.errors.append(frame["data"])
        except ConnectionClosed:
            pass
        received = self.ws.protocol.close_rcvd
        if received is not None:
            self.closed = (received.code, received.reason)

    async def _ping(self) -> None:
        every = float(self.hello["data"]["ping_seconds"]) * 0.7
        await asyncio.sleep(random.uniform(0, every))
        with contextlib.suppress(ConnectionClosed):
            while True:
                await self.ws.send(json.dumps({"type": "ping"}))
                await asyncio.sleep(every)

    async def send_message(self, client_id: str, body: str, conversation: int | None) -> None:
        frame: dict[str, Any] = {"type": "message.send", "body": body, "client_id": client_id}
        if conversation is not None:
            frame["conversation"] = conversation
        await self.ws.send(json.dumps(frame))

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await self.ws.close()


async def open_all(
    server: Server, paths: list[str], failures: list[str], limit: int = 50
) -> list[Peer | None]:
    semaphore = asyncio.Semaphore(limit)

    async def one(path: str) -> Peer | None:
        async with semaphore:
            return await Peer.open(server, path, failures)

    return await asyncio.gather(*(one(p) for p in paths))


async def until(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.25)
    return check()


async def test_500_buyer_and_50_agent_sockets_chat_both_ways(loaded: Loaded) -> None:
    # issue 8, must-show 4
    server, shop = loaded.server, loaded.shop
    failures: list[str] = []
    agent_peers = await open_all(
        server, [f"/ws/agent/?token={a['token']}" for a in shop["agents"]], failures
    )
    buyer_peers = await open_all(
        server, [f"/ws/widget/?token={b['token']}" for b in shop["buyers"]], failures
    )
    assert failures == []
    agents = {a["id"]: p for a, p in zip(shop["agents"], agent_peers, strict=True) if p}
    buyers = {b["external_id"]: p for b, p in zip(shop["buyers"], buyer_peers, strict=True) if p}
    assert len(agents) == AGENTS and len(buyers) == BUYERS
    replies: list[asyncio.Task[None]] = []

    for agent in agents.values():

        def answer(data: dict[str, Any], agent: Peer = agent) -> None:
            if data["sender"] == "buyer":  # the agent answers every buyer message once
                replies.append(
                    asyncio.ensure_future(
                        agent.send_message(
                            f"re-{data['id']}", f"re: {data['body']}", data["conversation"]
                        )
                    )
                )

        agent.on_message = answer

    async def chat(external_id: str, peer: Peer) -> None:
        await asyncio.sleep(random.uniform(0, CHAT_SPREAD))
        for n in range(ROUNDS):
            client_id = f"{external_id}-{n}"
            await peer.send_message(client_id, f"{external_id} says {n}", None)
            await until(lambda: client_id in peer.acks, DELIVERY_TIMEOUT)
            await asyncio.sleep(random.uniform(0, CHAT_SPREAD / 2))

    try:
        await asyncio.gather(*(chat(b, p) for b, p in buyers.items()))
        conversation_agent = {c["id"]: c["agent"] for c in loaded.conversations.values()}
        buyer_messages = {  # message id -> the agent who must receive it
            ack["message"]["id"]: conversation_agent[ack["message"]["conversation"]]
            for peer in buyers.values()
            for ack in peer.acks.values()
        }

        def agent_messages() -> dict[int, Peer]:
            """Answers the server acknowledged -> the buyer socket that must receive them."""
            by_conversation = {loaded.conversations[b]["id"]: p for b, p in buyers.items()}
            return {
                ack["message"]["id"]: by_conversation[ack["message"]["conversation"]]
                for peer in agents.values()
                for ack in peer.acks.values()
            }

        def all_delivered() -> bool:
            answered = agent_messages()
            return (
                len(answered) == len(buyer_messages)
                and all(agents[a].created[m] >= 1 for m, a in buyer_messages.items())
                and all(p.created[m] >= 1 for m, p in answered.items())
            )

        await until(all_delivered, DELIVERY_TIMEOUT)
        await asyncio.sleep(1)  # a duplicate would arrive now
        everyone = [*agents.values(), *buyers.values()]
        # nobody was closed by the server, with 1011 or anything else
        assert [p.closed for p in everyone if p.closed] == []
        assert [e for p in everyone for e in p.errors] == []
        # every buyer message was acknowledged and reached its agent exactly once
        assert len(buyer_messages) == BUYERS * ROUNDS
        for message, agent_id in buyer_messages.items():
            assert agents[agent_id].created[message] == 1, (message, agent_id)
            assert sum(p.created[message] for p in agents.values()) == 1
        # every answer was acknowledged and reached its buyer exactly once
        answered = agent_messages()
        assert len(answered) == BUYERS * ROUNDS
        for message, peer in answered.items():
            assert peer.created[message] == 1, message
        assert sum(n for status, n in loaded.statuses.items() if status >= 500) == 0
        assert max(loaded.sampler.held) <= configured_pool_size()
    finally:
        for task in replies:
            task.cancel()
        await asyncio.gather(*(p.close() for p in [*agents.values(), *buyers.values()]))
