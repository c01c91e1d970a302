"""The client's address (issue 12, hardening): ``X-Forwarded-For`` only as far as it was written
by proxies the operator trusts.

DRF's throttles keyed an anonymous caller by the whole ``X-Forwarded-For`` header when one was
sent, so a client rotating that header got a fresh login or signup budget on every request. Here
the address is ``REMOTE_ADDR`` unless that is one of ``HELPDESK_TRUSTED_PROXIES`` (addresses or
networks, e.g. ``10.0.0.0/8,127.0.0.1``); then the header is read from the right, skipping
trusted proxies, and the first address that is not one is the client's (what a proxy appends
cannot be forged by the client; what the client wrote itself is further left)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from functools import cache
from typing import Any

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _trusted(spec: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in spec if item.strip())


def _is_trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_ip(meta: Mapping[str, Any]) -> str:
    """The client's address for a request's ``META``."""
    remote = str(meta.get("REMOTE_ADDR") or "")
    networks = _trusted(tuple(settings.HELPDESK_TRUSTED_PROXIES))
    if not networks or not _is_trusted(remote, networks):
        return remote
    hops = [hop.strip() for hop in str(meta.get("HTTP_X_FORWARDED_FOR") or "").split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _is_trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:  # not an address: the header is not to be believed from here on
                return remote
    return remote
