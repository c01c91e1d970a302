"""A shop with something behind every route of the API, for tests that walk the whole schema
(``tests/api/test_schema_contract.py``, ``tests/core/test_hardening.py``): an agent in a group,
buyers with an active and a pooled conversation and their messages, an image, a product, an
order with a note, an after-sale, an API key, a webhook with a delivery, quick replies, an intent
rule, a sensitive word, a blocked buyer, a private contact, and a widget session.

``values`` gives a real value for each path parameter of each route, so that a walker can reach
an object and not only the 404 of an unknown id; ``credentials`` says how an operation of the
OpenAPI schema authenticates, by its security schemes."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from PIL import Image

from apps.accounts.permissions import Perm
from apps.conversations import images
from apps.conversations.buyers import buyer_token
from apps.conversations.models import Message, Sender
from apps.integrations import keys as integration_keys
from tests.support import tenant_factories as make

PLACEHOLDER = re.compile(r"\{([^}]+)\}")


def openapi_schema() -> dict[str, Any]:
    """The schema drf-spectacular makes for the app, as ``/api/schema/`` serves it."""
    with GENERATOR_STATS.silence():
        return SchemaGenerator().get_schema(request=None, public=True)  # type: ignore[no-any-return]


def security_of(operation: Mapping[str, Any]) -> set[str]:
    """The names of the security schemes an operation accepts."""
    return {name for requirement in operation.get("security", []) for name in requirement}


@dataclass(frozen=True)
class ApiWorld:
    staff_token: str  # the shop's main account
    api_key: str
    buyer_token: str  # a buyer with an open (active) conversation
    values: Mapping[str, Any]  # "<route prefix>" or "<parameter>" -> a real value

    def credentials(self, path: str, security: Iterable[str]) -> dict[str, str]:
        """The ``Authorization`` header the operation's security schemes ask for: the buyer
        token on the widget's routes, an API key where one is accepted, else the staff token."""
        schemes = set(security)
        if "BuyerToken" in schemes and path.startswith("/api/v1/widget/"):
            return {"Authorization": f"Buyer {self.buyer_token}"}
        if "ApiKey" in schemes:
            return {"Authorization": f"Bearer {self.api_key}"}
        if "StaffToken" in schemes:
            return {"Authorization": f"Token {self.staff_token}"}
        return {}

    def value(self, path: str, parameter: str) -> Any:
        """A real value for ``parameter`` of the route ``path`` (an OpenAPI path template)."""
        if parameter in self.values:
            return self.values[parameter]
        prefix = path[: path.index("{" + parameter + "}") + len(parameter) + 2]
        return self.values[prefix]

    def fill(self, path: str) -> str:
        """``path`` with a real value for each of its parameters."""
        return PLACEHOLDER.sub(lambda m: str(self.value(path, m.group(1))), path)


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 160, 90)).save(out, "PNG")
    return out.getvalue()


def build_world(kit: Any) -> ApiWorld:
    """Fills ``kit``'s shop (a ``conftest.ShopKit``); files go to ``MEDIA_ROOT``."""
    shop = kit.shop
    active, _pooled = make.make_conversations(shop)
    group = make.make_group(shop)
    agent = kit.sub("contract-agent", {Perm.CHAT}, group=group)
    order = make.make_order(shop)
    product = make.make_product(shop)
    after_sale = make.make_after_sale(shop)
    make.make_order_note(shop)
    make.make_visit(shop)
    key = integration_keys.api_key_create(actor=kit.main, name="contract key")
    webhook = make.make_webhook(shop)
    reply = make.make_quick_reply(shop)[0]
    rule = make.make_intent_rule(shop)
    word = make.make_sensitive_word(shop)
    block = make.make_buyer_block(shop)
    contact = make.make_private_contact(shop)
    data = png()
    image, _created = images.image_message_send(
        conversation=active,
        sender=Sender.BUYER,
        upload=SimpleUploadedFile("photo.png", data, content_type="image/png"),
        size=len(data),
    )
    buyer_message = Message.objects.filter(conversation=active, sender=Sender.BUYER).first()
    assert buyer_message is not None
    values = {
        "/api/v1/accounts/{id}": agent.pk,
        "/api/v1/after-sales/{external_id}": after_sale.external_id,
        "/api/v1/api-keys/{id}": key.api_key.pk,
        "/api/v1/attachments/{id}": image.attachment.pk,
        "/api/v1/blocked-buyers/{buyer}": block.external_id,
        "/api/v1/buyers/{external_id}": active.buyer.external_id,
        "/api/v1/conversations/{id}": active.pk,
        "message_id": buyer_message.pk,
        "/api/v1/groups/{id}": group.pk,
        "/api/v1/intent-rules/{id}": rule.pk,
        "/api/v1/orders/{external_id}": order.external_id,
        "/api/v1/private-contacts/{buyer_id}": contact.buyer.external_id,
        "/api/v1/products/{external_id}": product.external_id,
        "/api/v1/quick-replies/{id}": reply.pk,
        "/api/v1/sensitive-words/{id}": word.pk,
        "/api/v1/webhooks/{id}": webhook.pk,
        "/api/v1/widget/appearance/{slug}": shop.slug,
    }
    return ApiWorld(
        staff_token=kit.token,
        api_key=key.key,
        buyer_token=buyer_token(active.buyer, "product", None, None),
        values=values,
    )
