"""The REST API's JSON parser: DRF's, reading through ``apps.core.jsonlimits`` (issue 12)."""

from __future__ import annotations

import codecs
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class LimitedJSONParser(JSONParser):
    """JSON bodies as DRF parses them, refused with a clear 400 when they are nested too deeply
    or hold overlong lists (``jsonlimits``) instead of a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        from apps.core import jsonlimits

        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        try:
            return jsonlimits.loads(text)
        except jsonlimits.JSONRefused as exc:
            raise ParseError(str(exc)) from None
