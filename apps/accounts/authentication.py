from __future__ import annotations

from rest_framework.authentication import TokenAuthentication


class StaffTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <token>``. Disabled accounts and deleted tokens answer 401."""

    keyword = "Token"
