"""The buyer's side of the REST API in tests: a signed widget session and its client (SPEC H3)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from rest_framework.test import APIClient

from apps.shops.models import Shop, ShopSettings

SESSION = "/api/v1/widget/session/"


def signature(secret: str, buyer_id: str) -> str:
    """API.md: hex HMAC-SHA256 of the UTF-8 buyer id, keyed with the UTF-8 widget secret."""
    return hmac.new(secret.encode("utf-8"), buyer_id.encode("utf-8"), hashlib.sha256).hexdigest()


def session_body(shop: Shop, buyer_id: str, **fields: Any) -> dict[str, Any]:
    secret = ShopSettings.objects.values_list("widget_secret", flat=True).get(shop=shop)
    return {
        "shop": shop.slug,
        "buyer_id": buyer_id,
        "signature": signature(secret, buyer_id),
        "entrance": "product",
        **fields,
    }


def buyer_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Buyer {token}")
    return client


def widget_client(shop: Shop, buyer_id: str = "buyer-1", **fields: Any) -> APIClient:
    """A client holding the buyer token of a signed session for ``buyer_id``."""
    response = APIClient().post(SESSION, session_body(shop, buyer_id, **fields), format="json")
    assert response.status_code == 200, response.content
    return buyer_client(response.json()["token"])
