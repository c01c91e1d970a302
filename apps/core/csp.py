"""Content-Security-Policy through django-csp (``CONTENT_SECURITY_POLICY`` in settings): no page
may be framed (``frame-ancestors 'none'``, with Django's ``X-Frame-Options: DENY``), but for the
buyer widget, which its shop embeds: a view that may be framed marks its response with
``frame_ancestors`` (the origins allowed), as django-csp's documentation suggests changing the
policy per response, from a subclass of its middleware."""

from __future__ import annotations

import threading
from typing import Any

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

__all__ = ["FrameAncestorsMiddleware", "allow_framing"]


def allow_framing(response: HttpResponseBase, origins: list[str]) -> HttpResponseBase:
    """Let ``origins`` (and this site) frame ``response``; the view must also be
    ``xframe_options_exempt`` (Django's clickjacking header knows no list of origins)."""
    response.frame_ancestors = ["'self'", *origins]  # type: ignore[attr-defined]
    return response


# What a response may carry that changes its policy (django-csp's decorators and nonce).
_PER_RESPONSE = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_exempt",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
    "_csp_exempt_ro",
)


class FrameAncestorsMiddleware(CSPMiddleware):
    """Also remembers the headers of the policies it built: every response but the widget's
    has the same policy, and building it cost about as much CPU as the rest of the middleware
    chain together (issue 8, the widget burst). A response that django-csp's decorators or a
    nonce customise is built as django-csp builds it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._built: dict[tuple[str, ...] | None, tuple[str | None, str | None]] = {}
        self._built_lock = threading.Lock()

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if (
            settings.DEBUG  # django-csp leaves Django's debug pages alone
            or getattr(request, "_csp_nonce", None) is not None
            or HEADER in response
            or HEADER_REPORT_ONLY in response
            or any(hasattr(response, name) for name in _PER_RESPONSE)
            or _excluded_prefixes()
        ):
            return super().process_response(request, response)
        ancestors = getattr(response, "frame_ancestors", None)
        key = tuple(ancestors) if ancestors is not None else None
        built = self._built.get(key)
        if built is None:
            response = super().process_response(request, response)
            built = (response.get(HEADER), response.get(HEADER_REPORT_ONLY))
            with self._built_lock:
                if len(self._built) > 1000:  # one key per shop's widget origins
                    self._built.clear()
                self._built[key] = built
            return response
        policy, report_only = built
        if policy is not None:
            response[HEADER] = policy
        if report_only is not None:
            response[HEADER_REPORT_ONLY] = report_only
        return response

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        ancestors: Any = getattr(response, "frame_ancestors", None)
        if ancestors is not None and not report_only:
            parts.replace = {**(parts.replace or {}), "frame-ancestors": list(ancestors)}
        return parts


def _excluded_prefixes() -> bool:
    return any(
        (getattr(settings, name, None) or {}).get("EXCLUDE_URL_PREFIXES")
        for name in ("CONTENT_SECURITY_POLICY", "CONTENT_SECURITY_POLICY_REPORT_ONLY")
    )
