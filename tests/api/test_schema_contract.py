"""Every operation of the OpenAPI schema against the app (issue 12; API.md: "The OpenAPI schema
at /api/schema/ must describe all of it", "Never 500 for input").

Schemathesis reads the schema the app serves at ``/api/schema/`` and calls each operation
in-process through Django's WSGI handler, on the real PostgreSQL and Redis: the examples and
coverage phases (boundary values, missing and wrong-typed fields, methods the route does not
have) and a few fuzzed cases each. Every answer is checked: no 5xx, a documented status code,
a documented Content-Type, a body and headers that match the schema.

Each operation is called the way its security schemes say (``tests.support.api_world``): the
widget's with a buyer's token, those that take an API key with one, the others with the main
account's token of a shop that has something behind every route. The path names a real object
(unless the case is about the path parameter itself; half of the fuzzed cases keep their random
one), so that the cases reach the views' code past the 404.

Bounded for ``make test``: a handful of fuzzed examples per operation, no deadline, derandomized
(the same cases on every run). On this 2-core machine the file runs in about two and a half
minutes.

What stays out: nothing of the schema. ``/metrics``, ``/healthz``, ``/readyz``, the pages and the
sockets are not in the schema (tests/core/test_health.py, tests/realtime). Side effects stay
here: each operation runs in one transaction rolled back at its end (pytest-django's ``db``), so
no webhook is ever delivered (deliveries start on commit) and nothing is pushed to a socket;
webhook URLs on private addresses are refused anyway (``HELPDESK_WEBHOOKS_ALLOW_PRIVATE`` off).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from pytest_django.fixtures import Settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import ShopKit
from tests.support.api_world import ApiWorld, build_world, security_of

# Fuzzed cases per operation, besides the examples and coverage phases' (which find most: they
# try each field's bounds, wrong types and missing values). A longer hunt:
# CONTRACT_EXAMPLES=100 pytest tests/api/test_schema_contract.py
MAX_EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "10"))

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

# The shop of the operation being tested (Schemathesis' hooks take no fixtures).
_current: list[ApiWorld] = []


@pytest.fixture
def world(shop_a: ShopKit, settings: Settings, tmp_path: Path) -> Iterator[ApiWorld]:
    settings.MEDIA_ROOT = tmp_path / "media"
    made = build_world(shop_a)
    # Requests go through Django's WSGI handler, which closes "old" connections when a request
    # starts and ends: here that would be the test's own transaction (django.test.Client
    # disconnects the same signal handlers while it sends a request).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    _current.append(made)
    try:
        yield made
    finally:
        _current.remove(made)
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@schema.hook
def flatmap_path_parameters(ctx: Any, path_parameters: dict[str, Any] | None) -> Any:
    """The generated path parameters, or the same with a real object's values."""
    if not path_parameters or not _current:
        return st.just(path_parameters)
    path = ctx.operation.path
    real = {name: _current[-1].value(path, name) for name in path_parameters}
    return st.sampled_from([real, path_parameters])


def _reach_a_real_object(case: Any, world: ApiWorld) -> None:
    """The examples and coverage phases' cases (made without the hook above) name a real
    object in their path, unless the case is about the path parameter itself."""
    if not case.path_parameters or case.meta is None:
        return
    phase = case.meta.phase
    if phase.name == "fuzzing" or phase.data.parameter_location == "path":
        return
    path = case.operation.path
    case.path_parameters = {name: world.value(path, name) for name in case.path_parameters}


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        # one shop per operation, shared by its examples (built by the `world` fixture)
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_every_operation_answers_as_the_schema_says(case: Any, world: ApiWorld) -> None:
    _reach_a_real_object(case, world)
    headers = world.credentials(case.operation.path, security_of(case.operation.definition.raw))
    case.call_and_validate(headers=headers, checks=CHECKS)
