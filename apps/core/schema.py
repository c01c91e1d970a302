"""The error answers of API.md ("General") in the OpenAPI schema, for every view in one place
(issue 12: a schemathesis run over the whole schema finds no undocumented status code).

Each operation gets the errors it can give, read from what the view is made of rather than
written on each view:

* 400 when it takes a body or query parameters (a body that is not JSON, or nested or long
  beyond ``apps.core.jsonlimits``, is a 400 too);
* 401 when it has authenticators (missing or invalid credentials; a public view with
  authenticators still refuses a bad token) and 403 when it has authenticators (a session
  without its CSRF token, a permission, a refusal of the service) or a permission other than
  ``AllowAny``;
* 404 when its path names an object (missing and another shop's alike, SPEC A1), or it takes
  ``page`` (a page past the last one; views that paginate by hand list
  ``apps.core.pagination.PAGE_PARAMETERS``) or ``format`` (DRF answers an unknown one 404);
* 409 on writes (a state that does not allow the action), 413 when it reads a body
  (``HELPDESK_MAX_BODY_BYTES``; ``apps.core.api``) and 415 (a Content-Type it has no parser
  for, or a multipart body DRF cannot read);
* 429 (``Throttled``: ``{"detail", "retry_after"?}``, ``Retry-After``) when it is throttled;
* 503 (``Unavailable``, ``Retry-After``) everywhere: the database pool or Redis is
  exhausted or down (``apps.core.unavailable``), which is "try again", never a 500.

The bodies are the components ``Error`` (API.md's ``{"errors": {...}}`` or
``{"detail": "..."}``), ``Throttled`` and ``Unavailable``. A view that can refuse otherwise (an
id given in a query parameter or the body that is unknown: 404; a public view whose service says
403) names those codes in its ``extend_schema(responses=...)`` with a description alone
(``OpenApiResponse(description=...)``, ``UNKNOWN_REFERENCE``): the body is added here.

Every view gets ``ErrorsAutoSchema`` as REST framework's ``DEFAULT_SCHEMA_CLASS``
(config/settings.py); ``extend_schema`` on a view builds on it, so it still applies on top.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiResponse
from rest_framework.permissions import AllowAny

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Query parameters DRF answers 404 for: a page past the last one, a format without a renderer.
NOT_FOUND_QUERY = frozenset({"page", "format"})
BODIES = frozenset({"POST", "PUT", "PATCH"})


# The bodies, as JSON Schema components (plain schemas: a serializer cannot have a field named
# ``errors``, which is its own attribute).
ERROR = {
    "type": "object",
    "description": "API.md's error body: `errors` names the fields of the input that are wrong, "
    "`detail` says what belongs to no field; a 400 may carry both, a refusal about one field "
    "(an unknown id given in the query) names it in `errors` whatever its status.",
    "properties": {
        "detail": {"type": "string"},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "minProperties": 1,
}
THROTTLED = {
    "type": "object",
    "description": "`retry_after` (seconds) comes with the per-buyer message rate (SPEC I6); the "
    "request throttles say it in `detail` and `Retry-After`.",
    "properties": {
        "detail": {"type": "string"},
        "retry_after": {"type": "integer", "minimum": 1},
    },
    "required": ["detail"],
}
UNAVAILABLE = {
    "type": "object",
    "description": "The database or Redis is exhausted or down: nothing was done, try again "
    "after `Retry-After` seconds.",
    "properties": {
        "code": {"type": "string", "enum": ["unavailable"]},
        "detail": {"type": "string"},
    },
    "required": ["code", "detail"],
}
COMPONENTS = {"Error": ERROR, "Throttled": THROTTLED, "Unavailable": UNAVAILABLE}

# For ``extend_schema(responses={..., 404: UNKNOWN_REFERENCE})``: the body is filled in here.
UNKNOWN_REFERENCE = OpenApiResponse(
    description="An id given in the query or the body is unknown, or another shop's."
)

RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    }
}

# code -> (the body's component, description, whether Retry-After is sent)
ERRORS: dict[int, tuple[str, str, bool]] = {
    400: ("Error", "Invalid input; nothing was changed.", False),
    401: ("Error", "No credentials, or credentials that are not valid.", False),
    403: ("Error", "Authenticated but not allowed.", False),
    404: ("Error", "Unknown, or another shop's.", False),
    409: ("Error", "The object's state does not allow this.", False),
    413: ("Error", "The request body is too large.", False),
    415: ("Error", "The body's Content-Type is not one this operation reads.", False),
    429: ("Throttled", "Too many requests: try again after Retry-After seconds.", True),
    503: ("Unavailable", "Briefly unavailable: try again after Retry-After seconds.", True),
}


class ErrorsAutoSchema(AutoSchema):
    """drf-spectacular's ``AutoSchema``, with the error answers each operation can give."""

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses: dict[str, Any] = operation.setdefault("responses", {})
        documented = {int(code) for code in responses if code.isdigit() and int(code) in ERRORS}
        for code in sorted(self.error_statuses(operation) | documented):
            answer = self._error_response(code)
            response = responses.setdefault(str(code), answer)
            if "content" not in response:  # a description alone: give it the body too
                response["content"] = answer["content"]
                if "headers" in answer:
                    response.setdefault("headers", answer["headers"])
        return operation

    def error_statuses(self, operation: dict[str, Any]) -> set[int]:
        """The error codes this operation can answer (see the module)."""
        view = self.view
        codes = {503}
        parameters = operation.get("parameters", [])
        if self.method in BODIES or any(p["in"] == "query" for p in parameters):
            codes.add(400)
        if self.method in BODIES:
            codes.update((413, 415))
        if self.method in WRITES:
            codes.add(409)
        if view.get_authenticators():
            codes |= {401, 403}
        elif any(not isinstance(p, AllowAny) for p in view.get_permissions()):
            codes.add(403)
        if any(p["in"] == "path" or p["name"] in NOT_FOUND_QUERY for p in parameters):
            codes.add(404)
        if view.get_throttles():
            codes.add(429)
        return codes

    def _error_response(self, code: int) -> dict[str, Any]:
        name, description, retry_after = ERRORS[code]
        component = ResolvedComponent(
            name=name, type=ResolvedComponent.SCHEMA, object=name, schema=COMPONENTS[name]
        )
        self.registry.register_on_missing(component)
        answer: dict[str, Any] = {
            "description": description,
            "content": {"application/json": {"schema": component.ref}},
        }
        if retry_after:
            answer["headers"] = dict(RETRY_AFTER)
        return answer
