"""JSON from clients, within limits (issue 12, hardening): the REST API's parser and the sockets'
frames both read it here.

Python's ``json`` parses nested arrays recursively: a 2 KB body nested 1,000 deep raised
``RecursionError`` (a 500 on every JSON endpoint, a dropped socket). Here that is a clear 400 (an
``error`` frame on a socket), and so is JSON nested deeper than ``HELPDESK_JSON_MAX_DEPTH`` or
with a list or object longer than ``HELPDESK_JSON_MAX_ITEMS``: no field of the API takes more,
and a list of 100,000 entries only costs the server to read. The size of a body is Django's
``DATA_UPLOAD_MAX_MEMORY_SIZE`` (``HELPDESK_MAX_BODY_BYTES``; 413 beyond it, see
``apps.core.api``); a socket frame's is ``HELPDESK_WS_MAX_FRAME_BYTES``."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _


class JSONRefused(ValueError):
    """The text is not JSON, or JSON beyond the limits; the message says which, for the client."""


def loads(text: str | bytes) -> Any:
    """``json.loads`` for what clients send: ``JSONRefused`` when it is not JSON or is nested
    deeper or holds longer lists and objects than the settings allow."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise JSONRefused(_too_deep()) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise JSONRefused(_("The body is not valid JSON: %(error)s") % {"error": exc}) from None
    check(value)
    return value


def check(value: Any) -> None:
    """``JSONRefused`` when ``value`` (parsed JSON) is nested deeper, or holds a longer list or
    object, than the settings allow. Iterative: it never recurses itself."""
    max_depth: int = settings.HELPDESK_JSON_MAX_DEPTH
    max_items: int = settings.HELPDESK_JSON_MAX_ITEMS
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > max_depth:
            raise JSONRefused(_too_deep())
        if len(node) > max_items:
            raise JSONRefused(_("A list or object has at most %(n)d entries.") % {"n": max_items})
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def _too_deep() -> str:
    return _("The JSON is nested too deeply (at most %(n)d levels).") % {
        "n": settings.HELPDESK_JSON_MAX_DEPTH
    }
