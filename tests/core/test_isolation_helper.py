"""The isolation helper itself: it finds routes, and it catches a view that leaks (SPEC A1)."""

from __future__ import annotations

import pytest
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import Account
from apps.routing.models import Group
from apps.shops.models import Shop
from tests.support.isolation import object_routes, probe


class LeakyAccountView(APIView):
    """Looks the account up without the shop: the mistake the helper exists to catch."""

    tenant_model = Account
    permission_classes = [AllowAny]

    def get(self, request: Request, pk: int) -> Response:
        account = Account.objects.get(pk=pk)
        return Response({"id": account.pk, "display_name": account.display_name})

    def patch(self, request: Request, pk: int) -> Response:
        Account.objects.filter(pk=pk).update(display_name="changed by another shop")
        return Response(status=404)


class UndeclaredView(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request, pk: int) -> Response:
        return Response(status=404)


class UnregisteredModelView(APIView):
    tenant_model = Shop  # no tenant factory for shops
    permission_classes = [AllowAny]

    def get(self, request: Request, slug: str) -> Response:
        return Response(status=404)


class GroupUpsertView(APIView):
    """An upsert by name that keeps to the caller's shop, as PUT /buyers/{external_id}/ will."""

    tenant_model = Group
    tenant_lookup = "upsert"
    tenant_lookup_fields = {"label": "name"}
    permission_classes = [AllowAny]

    def put(self, request: Request, label: str) -> Response:
        group, _ = Group.objects.update_or_create(
            shop_id=request.user.shop_id, name=label, defaults={"max_concurrent": 3}
        )
        return Response({"id": group.pk, "name": group.name})


class LeakyGroupUpsertView(GroupUpsertView):
    def put(self, request: Request, label: str) -> Response:
        Group.objects.filter(name=label).update(max_concurrent=3)
        return Response({"id": Group.objects.get(name=label).pk})


urlpatterns = [
    path("api/v1/groups-upsert/<str:label>/", GroupUpsertView.as_view()),
    path("api/v1/groups-leaky-upsert/<str:label>/", LeakyGroupUpsertView.as_view()),
    path("api/v1/leaky/<int:pk>/", LeakyAccountView.as_view()),
    path("api/v1/undeclared/<int:pk>/", UndeclaredView.as_view()),
    path("api/v1/unregistered/<slug:slug>/", UnregisteredModelView.as_view()),
    path("not-api/<int:pk>/", UndeclaredView.as_view()),
]


# The probes' requests go to the URL patterns above, not the project's.
pytestmark = pytest.mark.urls(__name__)


def _routes() -> dict[str, object]:
    return {route.route: route for route in object_routes(urlconf=__name__)}


def test_helper_finds_only_object_routes_under_the_api():
    # given a URL configuration with five API object routes and one outside the API
    # when the helper walks it
    routes = _routes()
    # then it finds the API routes with the methods their views implement
    assert set(routes) == {
        "api/v1/groups-upsert/{label}/",
        "api/v1/groups-leaky-upsert/{label}/",
        "api/v1/leaky/{pk}/",
        "api/v1/undeclared/{pk}/",
        "api/v1/unregistered/{slug}/",
    }
    assert routes["api/v1/leaky/{pk}/"].methods == ("GET", "PATCH")  # type: ignore[attr-defined]


def test_helper_reports_a_view_that_reads_and_changes_another_shops_account(shop_a, shop_b):
    # given a view that looks accounts up by id alone
    route = _routes()["api/v1/leaky/{pk}/"]
    # when shop A probes it with shop B's accounts
    read = probe(route, "GET", client=shop_a.client(), other_shop=shop_b.shop)  # type: ignore[arg-type]
    write = probe(route, "PATCH", client=shop_a.client(), other_shop=shop_b.shop)  # type: ignore[arg-type]
    # then the leak of data, the status and the change are all reported
    assert any("answered 200, expected 404" in p for p in read)
    assert any("private agent" in p and "carries" in p for p in read)
    assert any("the other shop's rows changed" in p for p in write)


def test_helper_fails_a_view_without_a_tenant_model(shop_a, shop_b):
    # given a view that declares no tenant model
    route = _routes()["api/v1/undeclared/{pk}/"]
    # when it is probed
    problems = probe(route, "GET", client=shop_a.client(), other_shop=shop_b.shop)  # type: ignore[arg-type]
    # then the developer is told to declare one
    assert len(problems) == 1 and "tenant_model" in problems[0]


def test_helper_fails_a_model_without_a_tenant_factory(shop_a, shop_b):
    # given a view whose model has no registered factory
    route = _routes()["api/v1/unregistered/{slug}/"]
    # when it is probed
    problems = probe(route, "GET", client=shop_a.client(), other_shop=shop_b.shop)  # type: ignore[arg-type]
    # then the developer is told where to register one
    assert len(problems) == 1 and "register_tenant_factory(Shop)" in problems[0]


def test_upsert_route_may_create_the_callers_own_object(shop_a, shop_b):
    # SPEC A1, H2: an external id upserted per shop creates shop A's own object
    route = _routes()["api/v1/groups-upsert/{label}/"]
    problems = probe(route, "PUT", client=shop_a.client(), other_shop=shop_b.shop)  # type: ignore[arg-type]
    assert problems == []
    assert Group.objects.filter(shop=shop_a.shop).count() == 1


def test_upsert_route_that_writes_into_another_shop_is_reported(shop_a, shop_b):
    # SPEC A1: the same external id in shop B must stay shop B's
    route = _routes()["api/v1/groups-leaky-upsert/{label}/"]
    problems = probe(route, "PUT", client=shop_a.client(), other_shop=shop_b.shop)  # type: ignore[arg-type]
    assert any("routing.Group.max_concurrent: 7 -> 3" in p for p in problems)
    assert any("answered with the other shop's object" in p for p in problems)
