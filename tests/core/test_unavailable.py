"""Exhaustion and outages are "try again later" (503 + Retry-After, socket close 1013), not bugs.
The end-to-end proof against real servers is tests/realtime/test_unavailable.py; here the mapping
itself, with the errors the drivers really raise."""

from __future__ import annotations

import json

import psycopg
import pytest
import redis
from django.db import IntegrityError, OperationalError
from django.http import HttpResponse
from django.utils import translation
from psycopg_pool import PoolTimeout
from rest_framework.exceptions import ValidationError

from apps.core.api import exception_handler
from apps.core.middleware import UnavailableMiddleware
from apps.core.unavailable import (
    CLOSE_TRY_AGAIN_LATER,
    RETRY_AFTER_SECONDS,
    SocketUnavailableGuard,
    is_unavailable,
)
from tests.support.websocket import WebsocketCommunicator


def django_error(cause: BaseException) -> OperationalError:
    """What Django raises: its own error, the driver's as the cause."""
    try:
        raise OperationalError(str(cause)) from cause
    except OperationalError as exc:
        return exc


def test_what_counts_as_unavailable():
    assert is_unavailable(django_error(PoolTimeout("couldn't get a connection after 1.00 sec")))
    assert is_unavailable(django_error(psycopg.OperationalError("connection refused")))
    assert is_unavailable(django_error(psycopg.errors.CannotConnectNow()))  # 57P03, starting
    assert is_unavailable(django_error(psycopg.errors.TooManyConnections()))  # 53300
    assert is_unavailable(redis.exceptions.ConnectionError("Error 111 connecting"))
    assert is_unavailable(redis.exceptions.TimeoutError("Timeout reading from socket"))
    # errors of the request itself stay what they are
    assert not is_unavailable(django_error(psycopg.errors.QueryCanceled()))
    assert not is_unavailable(django_error(psycopg.errors.SerializationFailure()))
    assert not is_unavailable(IntegrityError("duplicate key"))
    assert not is_unavailable(ValueError("bad input"))


def test_api_answers_503_with_retry_after_in_english_and_chinese():
    exc = django_error(PoolTimeout("couldn't get a connection after 10.00 sec"))
    response = exception_handler(exc, {})
    assert response is not None and response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.data["code"] == "unavailable" and "try again" in response.data["detail"]
    with translation.override("zh-hans"):
        assert "稍后再试" in exception_handler(exc, {}).data["detail"]  # type: ignore[union-attr]
    # other errors keep their mapping
    assert exception_handler(ValidationError({"body": ["required"]}), {}).status_code == 400  # type: ignore[union-attr]


async def _failing_socket_app(scope, receive, send):
    """A socket application whose database is out of connections at the handshake."""
    await receive()  # websocket.connect
    raise django_error(PoolTimeout("couldn't get a connection after 1.00 sec"))


async def _failing_after_accept(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    await receive()  # a frame
    raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:1.")


async def _buggy_app(scope, receive, send):
    await receive()
    raise ZeroDivisionError


async def test_socket_closes_1013_when_the_handshake_finds_no_connection():
    ws = WebsocketCommunicator(SocketUnavailableGuard(_failing_socket_app), "/ws/widget/")
    connected, _ = await ws.connect()
    assert connected  # accepted only so that the client sees the code
    assert await ws.receive_output(1) == {"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER}


async def test_socket_closes_1013_when_redis_goes_away_mid_socket():
    ws = WebsocketCommunicator(SocketUnavailableGuard(_failing_after_accept), "/ws/agent/")
    assert (await ws.connect())[0]
    await ws.send_json_to({"type": "ping"})
    assert await ws.receive_output(1) == {"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER}


async def test_other_socket_errors_are_not_disguised():
    ws = WebsocketCommunicator(SocketUnavailableGuard(_buggy_app), "/ws/agent/")
    await ws.send_input({"type": "websocket.connect"})
    with pytest.raises(ZeroDivisionError):
        await ws.wait(1)


def test_pages_answer_503_too(rf):
    # given a page (not the API) whose database is out of connections
    request = rf.get("/workbench/")
    middleware = UnavailableMiddleware(lambda r: HttpResponse())
    # when it fails, then the answer is a JSON 503 with Retry-After
    response = middleware.process_exception(request, django_error(PoolTimeout("no connection")))
    assert response is not None and response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert json.loads(response.content)["code"] == "unavailable"
    # and a bug is left to Django's 500
    assert middleware.process_exception(request, ZeroDivisionError()) is None
