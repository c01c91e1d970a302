"""HTTP under ASGI: Django's handler with its sync middleware chain, one thread hop per request.

The product has no async views. Django's own ``ASGIHandler`` runs a sync chain through asgiref:
a new thread per request (``ThreadSensitiveContext``) and a hop between it and the event loop for
each signal and for closing the response. A WSGI bridge (``a2wsgi``, used before) hops four times
per request: reading the body, starting the response, each body chunk, the end. Both cost the
server as much CPU as a short view (issue 8, py-spy under the widget burst).

``PooledHTTPHandler`` reuses Django's ASGI pieces (reading the body, building the request,
sending the response) and runs everything between them in one call on a bounded pool of
``threads``: the ``request_started`` signal, the middleware chain and view, and closing the
response (``request_finished``, which hands the thread's database connection back), so that a
thread's connection is only ever used by that thread. Requests beyond the pool wait in its queue
holding nothing. A streaming response is read to its end in the thread too and sent from memory:
the product streams through its sockets, and its HTTP answers (pages, JSON, exports, static
files) are bounded.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import HttpResponseBase
from django.urls import set_script_prefix

from apps.core import precedence


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


class PooledHTTPHandler(ASGIHandler):
    """An ASGI application for HTTP: Django's sync handler on ``threads`` threads."""

    def __init__(self, threads: int) -> None:
        base.BaseHandler.__init__(self)  # not ASGIHandler's: it loads the async chain
        self.load_middleware(is_async=False)
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="http")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"HTTP only, not {scope['type']}")
        await self.handle(scope, receive, send)

    async def handle(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        context = contextvars.copy_context()
        response = await asyncio.get_running_loop().run_in_executor(
            self._pool, context.run, self._respond, scope, body_file
        )
        await self.send_response(response, send)

    def _respond(self, scope: Any, body_file: Any) -> HttpResponseBase:
        """In a pool thread: the whole sync request, closed, with its body in memory."""
        response: HttpResponseBase | None = None
        try:
            precedence.give_way()  # a routing pass holding its shop's lock goes first
            set_script_prefix(get_script_prefix(scope))
            signals.request_started.send(sender=self.__class__, scope=scope)
            request, response = self.create_request(scope, body_file)
            if request is not None:
                response = self.get_response(request)
                response._handler_class = self.__class__  # type: ignore[attr-defined]
            assert response is not None
            if response.streaming:
                body = b"".join(response)  # type: ignore[arg-type]
                response.streaming_content = _once(body)  # type: ignore[attr-defined]
            return response
        finally:
            if response is not None:
                response.close()  # request_finished: this thread's connection goes back
            else:
                signals.request_finished.send(sender=self.__class__)
            body_file.close()
