"""Secrets never reach the logs (issue 12, I7): the access log's request lines with ``token=``
(staff and buyer tokens on the sockets, for API clients that cannot send a header) or
``ticket=`` are written with the value replaced by ``[redacted]``."""

from __future__ import annotations

import logging
import re

_SECRET_PARAMS = re.compile(r"((?:^|[?&])(?:token|ticket|key)=)[^&#\s]*", re.IGNORECASE)

# Loggers whose records carry request paths: uvicorn's access log, Django's request errors.
LOGGERS = ("uvicorn.access", "uvicorn.error", "django.request", "django.server")


def redact(text: str) -> str:
    """``text`` with the values of ``token``, ``ticket`` and ``key`` query parameters hidden."""
    return _SECRET_PARAMS.sub(r"\1[redacted]", text)


class RedactSecrets(logging.Filter):
    """Rewrites a record's message arguments (uvicorn passes the path as one) and its message."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str) and "=" in record.msg:
            record.msg = redact(record.msg)
        return True


def install() -> None:
    """Add the filter to the loggers that print request paths (idempotent)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
