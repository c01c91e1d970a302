"""Where a webhook may send (SPEC H4; API.md: SSRF guard).

A webhook URL is http(s), and the addresses its host resolves to are public: private, loopback,
link-local, shared (CGN), unspecified, multicast and reserved networks are refused, when the
webhook is made and again at every delivery, after resolving the host then. The delivery
connects to the address it checked (``Target.address``), never resolving twice (a host cannot
answer a public address to the check and a private one to the connection), and follows no
redirect. ``HELPDESK_WEBHOOKS_ALLOW_PRIVATE=1`` lifts the address rule (tests, a shop's systems on
the same private network); the scheme rule stays."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
DEFAULT_PORTS = {"http": 80, "https": 443}
URL_MAX = 500


class Refused(Exception):
    """The URL or its addresses may not be sent to; the message says why."""


def allowed_address(ip: IPAddress) -> bool:
    """A public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or getattr(ip, "is_site_local", False)
    )


def _private_allowed() -> bool:
    return bool(settings.HELPDESK_WEBHOOKS_ALLOW_PRIVATE)


def parse(url: str) -> SplitResult:
    """An http(s) URL with a host, no credentials, no fragment (``Refused`` otherwise)."""
    if not isinstance(url, str) or not url or len(url) > URL_MAX:
        raise Refused(_("Enter an http or https URL of at most %(n)d characters.") % {"n": URL_MAX})
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        raise Refused(_("A URL may not contain spaces or control characters."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused(_("This is not a valid URL.")) from None
    if parts.scheme not in DEFAULT_PORTS:
        raise Refused(_("Only http and https URLs are accepted."))
    if not parts.hostname:
        raise Refused(_("The URL has no host."))
    if parts.username is not None or parts.password is not None:
        raise Refused(_("A URL may not contain a user name or password."))
    if parts.fragment:
        raise Refused(_("A URL may not contain a fragment (#...)."))
    if port == 0:
        raise Refused(_("This is not a valid URL."))
    return parts


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (``Refused`` when none)."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise Refused(_("The host %(host)s cannot be resolved.") % {"host": host}) from None
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in found:
            found.append(ip)
    if not found:
        raise Refused(_("The host %(host)s cannot be resolved.") % {"host": host})
    return found


def _ascii_host(host: str) -> str:
    """The host as DNS and the ``Host`` header take it (IDNA for a non-ASCII name)."""
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        raise Refused(_("This is not a valid URL.")) from None


@dataclass(frozen=True)
class Target:
    """Where one request goes: the URL as the shop wrote it, its host in ASCII, and the
    checked address."""

    parts: SplitResult
    host: str
    address: IPAddress

    @property
    def port(self) -> int:
        return self.parts.port or DEFAULT_PORTS[self.parts.scheme]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.parts.port is None else f"{host}:{self.parts.port}"

    @property
    def connect_url(self) -> str:
        """The URL with the checked address in place of the host (``Host`` and TLS's SNI carry
        the name)."""
        address = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        path = self.parts.path or "/"
        query = f"?{self.parts.query}" if self.parts.query else ""
        return f"{self.parts.scheme}://{address}:{self.port}{path}{query}"

    @property
    def sni_hostname(self) -> str | None:
        return None if _literal(self.host) is not None else self.host


def check(url: str) -> Target:
    """The URL's target, every resolved address checked (one private address refuses the
    whole host). Raises ``Refused``."""
    parts = parse(url)
    assert parts.hostname is not None
    host = parts.hostname if _literal(parts.hostname) else _ascii_host(parts.hostname)
    addresses = resolve(host, parts.port or DEFAULT_PORTS[parts.scheme])
    if not _private_allowed():
        for ip in addresses:
            if not allowed_address(ip):
                raise Refused(
                    _(
                        "%(host)s resolves to %(ip)s, a private, loopback or link-local "
                        "address: webhooks go to public addresses only."
                    )
                    % {"host": parts.hostname, "ip": ip}
                )
    return Target(parts=parts, host=host, address=addresses[0])
