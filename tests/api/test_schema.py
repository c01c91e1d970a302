"""The OpenAPI schema describes the whole API, without a warning (SPEC H1; API.md: "The OpenAPI
schema at /api/schema/ must describe all of it")."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import Resolver404, resolve
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

# Every method and path of API.md's tables (v1). Paths whose endpoints do not exist yet (their
# issues come later) are skipped by the test below; as soon as one resolves, it is checked.
API_MD: dict[str, set[str]] = {
    # Shops and staff
    "/api/v1/shops/": {"POST"},
    "/api/v1/auth/token/": {"POST"},
    "/api/v1/me/": {"GET", "PATCH"},
    "/api/v1/me/status/": {"POST"},
    "/api/v1/accounts/": {"GET", "POST"},
    "/api/v1/accounts/{id}/": {"GET", "PATCH", "DELETE"},
    "/api/v1/accounts/{id}/password/": {"POST"},
    "/api/v1/groups/": {"GET", "POST"},
    "/api/v1/groups/{id}/": {"GET", "PATCH", "DELETE"},
    "/api/v1/private-contacts/": {"GET", "POST"},
    "/api/v1/private-contacts/{buyer_id}/": {"DELETE"},
    "/api/v1/intent-rules/": {"GET", "POST"},
    "/api/v1/intent-rules/{id}/": {"PATCH", "DELETE"},
    "/api/v1/settings/": {"GET", "PATCH"},
    "/api/v1/settings/widget-secret/": {"POST"},
    # Shop data
    "/api/v1/buyers/{external_id}/": {"PUT"},
    "/api/v1/products/{external_id}/": {"PUT"},
    "/api/v1/orders/{external_id}/": {"PUT"},
    "/api/v1/after-sales/{external_id}/": {"PUT"},
    "/api/v1/api-keys/": {"GET", "POST"},
    "/api/v1/api-keys/{id}/": {"DELETE"},
    "/api/v1/webhooks/": {"GET", "POST"},
    "/api/v1/webhooks/{id}/": {"DELETE"},
    # Conversations
    "/api/v1/conversations/": {"GET"},
    "/api/v1/conversations/{id}/": {"GET"},
    "/api/v1/conversations/{id}/messages/": {"GET", "POST"},
    "/api/v1/conversations/{id}/close/": {"POST"},
    "/api/v1/conversations/{id}/transfer/": {"POST"},
    "/api/v1/conversations/{id}/claim/": {"POST"},
    "/api/v1/queue/": {"GET"},
    "/api/v1/monitor/": {"GET"},
    "/api/v1/metrics/": {"GET"},
    "/api/v1/quick-replies/": {"GET", "POST"},
    "/api/v1/quick-replies/{id}/": {"PATCH", "DELETE"},
    "/api/v1/quick-replies/suggest/": {"GET"},
    # Buyer widget
    "/api/v1/widget/session/": {"POST"},
    "/api/v1/widget/agents/": {"GET"},
    "/api/v1/widget/conversation/": {"GET", "POST"},
    "/api/v1/widget/conversation/messages/": {"GET", "POST"},
    "/api/v1/widget/conversation/leave/": {"POST"},
    "/api/v1/widget/conversation/rating/": {"POST"},
}
# The responses whose shape API.md gives, by operation.
SHAPES = {
    ("/api/v1/conversations/{id}/", "get"): "Conversation",
    ("/api/v1/widget/conversation/", "get"): "Conversation",
    ("/api/v1/conversations/{id}/messages/", "post"): "Message",
}
PLACEHOLDER = re.compile(r"\{[^}]+\}")


def _generate() -> tuple[dict[str, Any], list[str]]:
    """The schema as `manage.py spectacular` makes it, and every warning and error on the way."""
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    problems = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    GENERATOR_STATS.reset()
    return schema, problems


@pytest.fixture(scope="module")
def generated() -> tuple[dict[str, Any], list[str]]:
    return _generate()


def _shape(path: str) -> str:
    return PLACEHOLDER.sub("{}", path)


def _exists(path: str) -> bool:
    try:
        resolve(PLACEHOLDER.sub("1", path))
    except Resolver404:
        return False
    return True


def test_schema_generates_without_a_warning_or_an_error(generated):
    # SPEC H1: `manage.py spectacular --validate --fail-on-warn` would pass
    # given the project's views / when the schema is generated
    schema, problems = generated
    # then drf-spectacular had nothing to complain about, and the result is valid OpenAPI 3
    assert problems == []
    validate_schema(schema)


def test_every_api_md_endpoint_that_exists_is_in_the_schema(generated):
    # API.md: the schema describes all of it, with the methods of the contract
    schema, _problems = generated
    documented = {_shape(path): {m.upper() for m in ops} for path, ops in schema["paths"].items()}
    existing = {path: methods for path, methods in API_MD.items() if _exists(path)}
    # the check is not vacuous: the routing issue's endpoints exist
    assert "/api/v1/conversations/{id}/transfer/" in existing
    assert "/api/v1/widget/conversation/rating/" in existing
    missing = {
        path: sorted(methods - documented.get(_shape(path), set()))
        for path, methods in existing.items()
        if methods - documented.get(_shape(path), set())
    }
    assert missing == {}


def test_answers_are_described_by_real_serializers(generated):
    # H1: no `object` with free properties where API.md names the fields
    schema, _problems = generated
    loose = [
        f"{method.upper()} {path} {code}"
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        for code, answer in op.get("responses", {}).items()
        if answer.get("content", {}).get("application/json", {}).get("schema", {}).get("type")
        == "object"
    ]
    assert loose == []
    for (path, method), component in SHAPES.items():
        ref = schema["paths"][path][method]["responses"]["200" if method == "get" else "201"]
        assert ref["content"]["application/json"]["schema"] == {
            "$ref": f"#/components/schemas/{component}"
        }


def test_conversation_and_message_components_have_the_fields_of_api_md(generated):
    # API.md, conversation fields and message fields: nothing renamed, nothing missing
    schema, _problems = generated
    components = schema["components"]["schemas"]
    conversation = set(components["Conversation"]["properties"])
    assert {
        "id",
        "buyer",
        "state",
        "agent",
        "group",
        "entrance",
        "product",
        "order",
        "intent",
        "queue",
        "human_requested_at",
        "assigned_at",
        "first_response_at",
        "closed_at",
        "close_reason",
        "from_offline_message",
        "rating",
    } <= conversation
    assert {"position", "eta_seconds", "hidden"} == set(components["QueueFigures"]["properties"])
    assert {"id", "seq", "sender", "agent", "kind", "body", "created_at", "client_id"} <= set(
        components["Message"]["properties"]
    )
    assert components["StateEnum"]["enum"] == ["assistant", "queued", "active", "pooled", "closed"]


def test_id_path_parameters_are_integers(generated):
    # H1: `{id}` is typed, so generated clients do not send strings
    schema, _problems = generated
    untyped = [
        f"{path} {param['name']}"
        for path, ops in schema["paths"].items()
        for op in ops.values()
        for param in op.get("parameters", [])
        if param["in"] == "path"
        and param["name"] == "id"
        and param["schema"].get("type") != "integer"
    ]
    assert untyped == []


PUBLIC_WIDGET = {"/api/v1/widget/session/", "/api/v1/widget/appearance/{slug}/"}
# SPEC I1: an image message's file, for the conversation's buyer and its staff alike (one URL in
# the message, which both sides receive).
# Files of a chat, and the socket ticket (issue 12, I7): each side with its own credentials.
BOTH_SIDES = {
    "/api/v1/attachments/{id}/",
    "/api/v1/attachments/{id}/thumbnail/",
    "/api/v1/ws-ticket/",
}


def test_widget_routes_use_the_buyer_token_and_staff_routes_the_staff_token(generated):
    # API.md General: `Authorization: Buyer <token>` for the widget, `Token <token>` for staff
    schema, _problems = generated
    schemes = schema["components"]["securitySchemes"]
    assert {"BuyerToken", "StaffToken"} <= set(schemes)
    for path, ops in schema["paths"].items():
        for op in ops.values():
            security = {name for requirement in op.get("security", []) for name in requirement}
            if path in PUBLIC_WIDGET:
                assert security <= set(), path  # anyone may open a session, or read the look
            elif path.startswith("/api/v1/widget/"):
                assert security == {"BuyerToken"}, path
            elif path in BOTH_SIDES:
                assert {"BuyerToken", "StaffToken"} <= security, path
            elif security:
                assert "BuyerToken" not in security and "StaffToken" in security, path


@pytest.mark.django_db
def test_schema_endpoint_serves_the_schema(anon):
    # API.md: the schema at /api/schema/ (docs at /api/docs/)
    response = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert "/api/v1/conversations/{id}/transfer/" in response.json()["paths"]
    assert anon.get("/api/docs/").status_code == 200


def test_every_operation_documents_the_errors_it_can_give(generated):
    # issue 12: API.md's error answers in the schema (apps/core/schema.py), each with its body;
    # schemathesis checks them against the app (test_schema_contract.py)
    schema, _problems = generated
    bodies = {"Error", "Throttled", "Unavailable"}
    assert bodies <= set(schema["components"]["schemas"])
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            responses = op["responses"]
            assert "503" in responses, (method, path)
            for code, answer in responses.items():
                if code >= "400":
                    ref = answer["content"]["application/json"]["schema"]["$ref"]
                    assert ref.rsplit("/", 1)[1] in bodies, (method, path, code)
            if "{" in path:
                assert "404" in responses, (method, path)
            if "requestBody" in op:
                assert {"400", "413", "415"} <= set(responses), (method, path)
            if op.get("security"):
                assert "401" in responses or {} in op["security"], (method, path)
    widget_session = schema["paths"]["/api/v1/widget/session/"]["post"]["responses"]
    assert {"400", "403", "429"} <= set(widget_session)  # a blocked buyer; THROTTLE_WIDGET
    # an account in no group reads `group: null`
    assert schema["components"]["schemas"]["Account"]["properties"]["group"]["nullable"] is True
