"""Every API route that takes an object id, called by shop A with shop B's object (SPEC A1).

The routes are found by walking the URL patterns, so an endpoint added later is checked without
anyone writing a test for it; a route whose view declares no tenant model, or whose model has no
tenant factory, fails here with a message that says what to add."""

from __future__ import annotations

import pytest

from tests.support.isolation import ObjectRoute, object_routes, probe

ROUTES = object_routes()
PROBES = [(route, method) for route in ROUTES for method in route.methods]


def test_the_walk_finds_the_account_routes():
    # SPEC A1, A3: the check is not vacuous: the account routes are among those it found
    # given the project's URL patterns / when they are walked
    found = {route.route: set(route.methods) for route in ROUTES}
    # then the account detail and password routes are there, with their methods
    assert {"GET", "PATCH", "DELETE"} <= found["api/v1/accounts/{pk}/"]
    assert found["api/v1/accounts/{pk}/password/"] == {"POST"}


def test_every_object_route_has_a_method_to_probe():
    # SPEC A1: a route with nothing to call would escape the check silently
    assert ROUTES
    assert all(route.methods for route in ROUTES), [str(r) for r in ROUTES if not r.methods]


@pytest.mark.parametrize(("route", "method"), PROBES, ids=[f"{m} {r.route}" for r, m in PROBES])
def test_another_shops_object_answers_404_and_stays_unchanged(
    route: ObjectRoute, method: str, shop_a, shop_b
):
    # SPEC A1: an id from another shop answers 404, never 403, never data
    # given shop A's main account, which may do everything in its own shop
    client = shop_a.client()
    # when it calls the route on objects of shop B / then 404, and shop B's rows are as they were
    problems = probe(route, method, client=client, other_shop=shop_b.shop)
    assert not problems, "\n".join(problems)
