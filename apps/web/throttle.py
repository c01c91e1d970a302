"""Rate limits for the anonymous pages, in the same buckets as the matching API endpoints: a login
or a signup counts once whether it came from the page or from ``/api/v1/``."""

from __future__ import annotations

import math

from django.http import HttpRequest

from apps.core.throttling import SimpleRateThrottle


class PageThrottle(SimpleRateThrottle):
    """Keyed by scope and client address, as DRF's ``ScopedRateThrottle`` keys anonymous callers."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__()

    def get_cache_key(self, request: HttpRequest, view: object) -> str:  # type: ignore[override]
        ident = self.get_ident(request)  # type: ignore[arg-type]  # reads only headers and META
        return self.cache_format % {"scope": self.scope, "ident": ident}


def throttle_wait(request: HttpRequest, scope: str) -> int | None:
    """Count this request against ``scope``; the seconds to wait when over the limit, else None."""
    throttle = PageThrottle(scope)
    if throttle.allow_request(request, None):  # type: ignore[arg-type]
        return None
    return max(1, math.ceil(throttle.wait() or 1))
