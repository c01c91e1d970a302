"""Login by ``shop`` or ``shop:name``; a full-width colon is taken as an ASCII one (SPEC A2)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from apps.accounts.models import Account


def normalize_login(username: str) -> str:
    """``" Demo：小王 "`` -> ``"demo:小王"``: colon width, surrounding spaces, slug case."""
    text = username.strip().replace("\uff1a", ":")
    shop, sep, name = text.partition(":")
    return f"{shop.strip().lower()}{sep}{name.strip()}"


class ShopLoginBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Account | None:
        if username is None or password is None:
            return None
        return super().authenticate(  # type: ignore[return-value]
            request, username=normalize_login(username), password=password, **kwargs
        )
