"""DRF's throttles keyed by the client's real address (``apps.core.clientip``; issue 12)."""

from __future__ import annotations

from typing import Any

from rest_framework import throttling

from apps.core.clientip import client_ip


class ClientAddressMixin:
    """``get_ident`` from ``client_ip``: ``X-Forwarded-For`` only from trusted proxies."""

    def get_ident(self, request: Any) -> str:
        return client_ip(request.META)


class ScopedRateThrottle(ClientAddressMixin, throttling.ScopedRateThrottle):
    """DRF's ``ScopedRateThrottle``, keyed by the client's real address when anonymous."""


class SimpleRateThrottle(ClientAddressMixin, throttling.SimpleRateThrottle):
    """DRF's ``SimpleRateThrottle``, keyed by the client's real address."""
