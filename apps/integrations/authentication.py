"""``Authorization: Bearer <api key>`` (SPEC H2; API.md, General): the shop's systems on the
shop-data and webhook endpoints, and nowhere else.

A key is not an account: the request's user is a ``KeyPrincipal`` of the key's shop, which
holds no permission of ``apps.accounts.permissions`` (``has_perm`` is false for it), so a staff
endpoint refuses it even if it got there. Only the views that list ``KEY_OR_STAFF`` as their
authentication classes read the Bearer header at all; everywhere else it is ignored and the
request is anonymous (401)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework.authentication import (
    BaseAuthentication,
    SessionAuthentication,
    get_authorization_header,
)
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from apps.accounts.authentication import StaffTokenAuthentication
from apps.audit.services import AuditActor
from apps.core.errors import NotFound
from apps.integrations.keys import api_key_check, key_actor
from apps.integrations.models import ApiKey

KEYWORD = "Bearer"


class KeyPrincipal:
    """``request.user`` for a request made with an API key: acts for ``shop_id``."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_main = False
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key
        self.shop_id = api_key.shop_id

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False  # no staff permission, ever (apps.accounts.permissions.has_perm)

    @property
    def audit_actor(self) -> AuditActor:
        return key_actor(self.api_key)

    def __str__(self) -> str:
        return f"API key {self.api_key.prefix}"


class ApiKeyAuthentication(BaseAuthentication):
    """A malformed, unknown or revoked key answers 401 at once (no cache: a revoked key's row
    is gone)."""

    def authenticate(self, request: Request) -> tuple[KeyPrincipal, ApiKey] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None
        if len(parts) != 2:
            raise AuthenticationFailed(_("Invalid Authorization header: Bearer <api key>."))
        try:
            key = parts[1].decode("ascii")
            api_key = api_key_check(key)
        except (UnicodeDecodeError, NotFound):
            raise AuthenticationFailed(_("Invalid API key.")) from None
        return KeyPrincipal(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


# The views an API key may call take these, the key first (its 401 names Bearer).
KEY_OR_STAFF = [ApiKeyAuthentication, StaffTokenAuthentication, SessionAuthentication]


class IsApiKey(BasePermission):
    """The request came with a valid API key (``KEY_OR_STAFF``)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ApiKey)


def actor_of_request(request: Request) -> Any:
    """Who the audit log names for a request: the account, or the key's ``AuditActor``."""
    user = request.user
    return user.audit_actor if isinstance(user, KeyPrincipal) else user
