"""One exception handler for the whole API: the error shapes of API.md."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from apps.core.errors import DomainError
from apps.core.unavailable import RETRY_AFTER_SECONDS, is_unavailable, unavailable_payload

NON_FIELD_KEYS = ("non_field_errors", "__all__")
# The formats an error keeps: JSON, and DRF's browsable pages (a person reading in a browser).
ERROR_FORMATS = ("json", "api")


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [m for value in detail.values() for m in _flatten(value)]
    if isinstance(detail, list):
        return [m for value in detail for m in _flatten(value)]
    return [str(detail)]


def validation_payload(detail: Any) -> dict[str, Any]:
    """``{"errors": {field: [...]}}``; non-field errors alone become ``{"detail": "..."}``."""
    if isinstance(detail, dict):
        fields = {k: _flatten(v) for k, v in detail.items() if k not in NON_FIELD_KEYS}
        general = [m for k in NON_FIELD_KEYS for m in _flatten(detail.get(k, []))]
        if not fields:
            return {"detail": " ".join(general)}
        payload: dict[str, Any] = {"errors": fields}
        if general:
            payload["detail"] = " ".join(general)
        return payload
    return {"detail": " ".join(_flatten(detail))}


def _errors_in_json(request: Any) -> None:
    """An error is JSON whatever format the request chose (API.md, General): a ``format=csv``
    request with a bad date gets the JSON error, not a CSV with the error in a cell."""
    renderer = getattr(request, "accepted_renderer", None)
    if renderer is not None and renderer.format not in ERROR_FORMATS:
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    _errors_in_json(context.get("request"))
    if is_unavailable(exc):  # pool exhausted, PostgreSQL or Redis down: try again, not a bug
        set_rollback()
        return Response(
            unavailable_payload(),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, DomainError):
        return Response(exc.as_payload(), status=exc.status_code, headers=exc.headers())
    if isinstance(exc, RequestDataTooBig):  # Django's HTML 400 otherwise (issue 12, hardening)
        too_large = _("The request body is too large (at most %(n)d bytes, files apart).") % {
            "n": settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        }
        return Response({"detail": too_large}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        return Response(validation_payload(detail), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        return Response(validation_payload(exc.detail), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, exceptions.ParseError):
        return Response({"detail": str(exc.detail)}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
