"""Reading client frames: the same rules as the REST serializers, without DRF (the sockets sit
beside the API, not on it). Errors are ``InvalidInput`` with the field, like the services'."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from apps.core.errors import InvalidInput

CLIENT_ID_MAX = 64


def conversation_of(content: dict[str, Any], *, required: bool = True) -> int | None:
    """``conversation``: a conversation id (a whole number, or its digits as a string); absent,
    null or empty is None where ``required`` is false."""
    value = content.get("conversation")
    if value in (None, "") and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise InvalidInput(_("Name the conversation by its id."), field="conversation")
    return int(value)


def message_fields(content: dict[str, Any]) -> dict[str, str]:
    """``message.send``: ``body`` (a string; the lifecycle checks it is not empty and not too
    long) and ``client_id`` (a string of at most 64 characters; absent or null: none)."""
    body = content.get("body")
    if not isinstance(body, str):
        raise InvalidInput(_("A message needs a text body."), field="body")
    client_id = content.get("client_id")
    if client_id is None:
        client_id = ""
    if not isinstance(client_id, str) or len(client_id) > CLIENT_ID_MAX:
        raise InvalidInput(
            _("A client id is a string of at most %(n)d characters.") % {"n": CLIENT_ID_MAX},
            field="client_id",
        )
    return {"body": body, "client_id": client_id}
