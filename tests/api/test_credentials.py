"""Every API route asks for the right kind of credentials (API.md General: staff `Token`, buyer
`Buyer`; 401 unauthenticated).

The routes are found by walking the URL patterns, like the tenant-isolation check: an endpoint
added later is covered without anyone writing a test for it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.regex_helper import normalize
from rest_framework.test import APIClient

from tests.support.widget import widget_client

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Open to anyone: signing up, logging in, opening a widget session, the widget's look.
PUBLIC = {
    "/api/v1/shops/",
    "/api/v1/auth/token/",
    "/api/v1/widget/session/",
    "/api/v1/widget/appearance/1/",
}


def _walk(
    patterns: Sequence[URLPattern | URLResolver], prefix: str = ""
) -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        template, params = normalize(pattern.pattern.regex.pattern)[0]
        if "format" in params:
            continue  # the `.json` suffix twins of routes walked anyway
        part = template % {p: "1" for p in params}
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + part)
        else:
            yield "/" + prefix + part, pattern


def _methods(pattern: URLPattern) -> list[str]:
    callback: Any = pattern.callback
    actions = getattr(callback, "actions", None)
    if actions:
        return [m for m in METHODS if m.lower() in actions]
    view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    return [m for m in METHODS if view is not None and hasattr(view, m.lower())]


ROUTES = sorted(
    {
        (url, method)
        for url, pattern in _walk(get_resolver().url_patterns)
        if url.startswith("/api/v1/") and url not in PUBLIC
        for method in _methods(pattern)
    }
)
# Both sides' files (SPEC I1): an image of a chat is fetched by its buyer and by the staff who
# may see the conversation, each with its own credentials.
# And the socket ticket (issue 12, I7): each side asks for one for its own socket.
SHARED = {"/api/v1/attachments/1/", "/api/v1/attachments/1/thumbnail/", "/api/v1/ws-ticket/"}
WIDGET = [(u, m) for u, m in ROUTES if u.startswith("/api/v1/widget/")]
STAFF = [(u, m) for u, m in ROUTES if not u.startswith("/api/v1/widget/") and u not in SHARED]


def _call(client: APIClient, url: str, method: str) -> int:
    return client.generic(method, url, data="{}", content_type="application/json").status_code


def test_the_walk_finds_the_staff_and_widget_routes():
    # not vacuous: the routing issue's routes are among those found
    assert ("/api/v1/conversations/1/transfer/", "POST") in STAFF
    assert ("/api/v1/settings/", "PATCH") in STAFF
    assert ("/api/v1/buyers/1/", "PUT") in STAFF
    assert ("/api/v1/widget/conversation/rating/", "POST") in WIDGET
    assert ("/api/v1/widget/agents/", "GET") in WIDGET
    assert {u for u, _m in ROUTES} >= SHARED


@pytest.mark.parametrize("url", sorted(SHARED - {"/api/v1/ws-ticket/"}))
def test_the_shared_file_routes_take_either_token_and_show_nothing_foreign(url, shop_a):
    # a buyer's and a staff token are both accepted (no 401), and neither sees a file that is
    # not theirs (404, never the file)
    assert _call(widget_client(shop_a.shop, "b-1"), url, "GET") == 404
    assert _call(shop_a.client(), url, "GET") == 404


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "method"), ROUTES, ids=[f"{m} {u}" for u, m in ROUTES])
def test_without_credentials_every_route_answers_401(url, method):
    # API.md General: 401 unauthenticated
    assert _call(APIClient(), url, method) == 401


@pytest.mark.parametrize(("url", "method"), STAFF, ids=[f"{m} {u}" for u, m in STAFF])
def test_a_buyer_token_is_refused_on_staff_routes(url, method, shop_a):
    # API.md General: staff routes take `Token` (or the session), never `Buyer`
    buyer = widget_client(shop_a.shop, "b-1")
    assert _call(buyer, url, method) == 401


@pytest.mark.parametrize(("url", "method"), WIDGET, ids=[f"{m} {u}" for u, m in WIDGET])
def test_a_staff_token_is_refused_on_widget_routes(url, method, shop_a):
    # API.md General: widget routes take `Buyer <token>`, never a staff token
    assert _call(shop_a.client(), url, method) == 401
