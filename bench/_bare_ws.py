"""The bare pipeline of ``bench.message_latency`` as a server process of its own (not a benchmark:
the Makefile's bench loop skips ``bench/_*.py``).

    python -m bench._bare_ws --port N --database-url URL --redis-url URL --table NAME

A minimal ``websockets`` server. A frame on ``/send`` is stored (one INSERT and a COMMIT on one
psycopg connection), published on a Redis channel, and the process's own subscriber forwards it
to every socket on ``/recv``: what the product does for a buyer's message (store, commit,
channel layer, the agent's socket) without anything else.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

import psycopg
import redis.asyncio as aioredis
from psycopg import sql
from websockets.asyncio.server import ServerConnection, serve

from bench._common import connect_kwargs

CHANNEL = "bench:bare"


async def run(args: argparse.Namespace) -> None:
    conn = await psycopg.AsyncConnection.connect(**connect_kwargs(args.database_url))
    insert = sql.SQL("INSERT INTO {} (body) VALUES (%s) RETURNING id").format(
        sql.Identifier(args.table)
    )
    publisher = aioredis.Redis.from_url(args.redis_url)
    subscriber = aioredis.Redis.from_url(args.redis_url)
    pubsub = subscriber.pubsub()
    await pubsub.subscribe(CHANNEL)
    receivers: set[ServerConnection] = set()
    write_lock = asyncio.Lock()

    async def forward() -> None:
        async for message in pubsub.listen():
            if message["type"] != "message":
                continue
            text = message["data"].decode()
            for ws in list(receivers):
                await ws.send(text)

    async def handler(ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else ""
        if path.startswith("/recv"):
            receivers.add(ws)
            try:
                await ws.wait_closed()
            finally:
                receivers.discard(ws)
            return
        async for frame in ws:
            data = json.loads(frame)
            async with write_lock:
                row = await (await conn.execute(insert, [data["body"]])).fetchone()
                await conn.commit()
            assert row is not None
            await publisher.publish(
                CHANNEL,
                json.dumps(
                    {"type": "message.created", "data": {"id": row[0], "body": data["body"]}}
                ),
            )

    forwarding = asyncio.ensure_future(forward())
    async with serve(handler, "127.0.0.1", args.port):
        print(f"bare pipeline listening on {args.port}", flush=True)
        await forwarding


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench._bare_ws")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--table", required=True)
    args = parser.parse_args(argv)
    try:  # the loop uvicorn runs the product on, when installed (uvicorn[standard])
        import uvloop

        uvloop.run(run(args))
    except ImportError:
        asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
