"""The address of the request a change comes from (SPEC I5), for the services that record it.

The services take their actor as an argument; the address is the request's, which they never
see: ``AuditAddressMiddleware`` puts it here for the request's duration (a context variable:
each request's thread, or task, has its own), and ``audit_record`` reads it. Outside a request
(a Celery task, a management command) there is none."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponseBase

from apps.core.clientip import client_ip

_address: ContextVar[str | None] = ContextVar("audit_address", default=None)


def _valid(address: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address((address or "").strip()))
    except ValueError:
        return None


@contextmanager
def request_address(address: str | None) -> Iterator[None]:
    """The block's changes come from ``address`` (ignored unless it is an IP address)."""
    token = _address.set(_valid(address))
    try:
        yield
    finally:
        _address.reset(token)


def current_address() -> str | None:
    return _address.get()


class AuditAddressMiddleware:
    """Every request's changes are recorded with the client's address (``client_ip``: the
    ``X-Forwarded-For`` of trusted proxies only)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        with request_address(client_ip(request.META)):
            return self.get_response(request)
