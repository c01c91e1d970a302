"""Socket tickets (issue 12, I7; API.md, socket authentication): ``POST /api/v1/ws-ticket/`` with
the caller's own credentials gives a ticket that opens that caller's socket once, within its
lifetime; the product's pages use them, so that no long-lived token travels in a socket URL."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from .conftest import ORIGIN, refused, sync, token_of, widget_token

pytestmark = pytest.mark.django_db(transaction=True)


def _ticket(credentials: str) -> dict:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=credentials)
    response = client.post("/api/v1/ws-ticket/")
    assert response.status_code == 200, response.content
    return response.json()


async def test_a_staff_ticket_opens_the_agent_socket_once(desk_a, sockets):
    agent = await sync(desk_a.agent)("agent")
    answer = await sync(_ticket)(f"Token {await sync(token_of)(agent)}")
    assert answer["socket"] == "/ws/agent/" and answer["expires_in"] == 30
    # the ticket opens the agent's own stream
    socket = await sockets(f"/ws/agent/?ticket={answer['ticket']}", [ORIGIN])
    assert socket.hello["type"] == "hello"
    # and a second handshake with the same ticket is refused
    assert await refused(f"/ws/agent/?ticket={answer['ticket']}", [ORIGIN])


async def test_a_buyer_ticket_opens_the_widget_socket_once(desk_a, sockets):
    await sync(desk_a.agent)("agent")
    buyer = await sync(desk_a.buyer)("buyer-1")
    answer = await sync(_ticket)(f"Buyer {widget_token(buyer)}")
    assert answer["socket"] == "/ws/widget/"
    socket = await sockets(f"/ws/widget/?ticket={answer['ticket']}", [ORIGIN])
    assert socket.hello["data"]["buyer"]["external_id"] == "buyer-1"
    assert await refused(f"/ws/widget/?ticket={answer['ticket']}", [ORIGIN])


async def test_tickets_expire_and_do_not_cross_sockets(desk_a):
    agent = await sync(desk_a.agent)("agent")
    buyer = await sync(desk_a.buyer)("buyer-1")
    staff = await sync(_ticket)(f"Token {await sync(token_of)(agent)}")
    buyers = await sync(_ticket)(f"Buyer {widget_token(buyer)}")
    # a staff ticket does not open the widget socket, nor a buyer's the agent socket
    assert await refused(f"/ws/widget/?ticket={staff['ticket']}", [ORIGIN])
    assert await refused(f"/ws/agent/?ticket={buyers['ticket']}", [ORIGIN])
    # an unknown ticket opens nothing
    assert await refused("/ws/agent/?ticket=made-up", [ORIGIN])
    # and a ticket lives HELPDESK_WS_TICKET_SECONDS in Redis (which expires it on its own clock:
    # read back the lifetime the key was given rather than wait for it)
    late = await sync(_ticket)(f"Token {await sync(token_of)(agent)}")
    key = cache.make_and_validate_key(f"ws-ticket:{late['ticket']}")
    assert 25_000 < cache._cache.get_client(key).pttl(key) <= 30_000


def test_asking_for_a_ticket_needs_credentials(desk_a):
    assert APIClient().post("/api/v1/ws-ticket/").status_code == 401
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Buyer not-a-token")
    assert client.post("/api/v1/ws-ticket/").status_code == 401
