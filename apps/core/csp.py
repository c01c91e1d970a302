"""Content-Security-Policy through django-csp (``CONTENT_SECURITY_POLICY`` in settings): no page
may be framed (``frame-ancestors 'none'``, with Django's ``X-Frame-Options: DENY``), but for the
buyer widget, which its shop embeds: a view that may be framed marks its response with
``frame_ancestors`` (the origins allowed), as django-csp's documentation suggests changing the
policy per response, from a subclass of its middleware."""

from __future__ import annotations

from typing import Any

from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest, HttpResponseBase

__all__ = ["FrameAncestorsMiddleware", "allow_framing"]


def allow_framing(response: HttpResponseBase, origins: list[str]) -> HttpResponseBase:
    """Let ``origins`` (and this site) frame ``response``; the view must also be
    ``xframe_options_exempt`` (Django's clickjacking header knows no list of origins)."""
    response.frame_ancestors = ["'self'", *origins]  # type: ignore[attr-defined]
    return response


class FrameAncestorsMiddleware(CSPMiddleware):
    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        ancestors: Any = getattr(response, "frame_ancestors", None)
        if ancestors is not None and not report_only:
            parts.replace = {**(parts.replace or {}), "frame-ancestors": list(ancestors)}
        return parts
