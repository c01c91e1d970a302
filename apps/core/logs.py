"""Logs (SPEC I7): a request id on every line, and secrets never in them (issue 12): the access
log's request lines with ``token=`` (staff and buyer tokens on the sockets, for API clients that
cannot send a header) or ``ticket=`` are written with the value replaced by ``[redacted]``."""

from __future__ import annotations

import contextvars
import logging
import os
import random
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
    """Add the filter to the loggers that print request paths (idempotent), and forget a
    request's id when it is finished."""
    from django.core.signals import request_finished

    request_finished.connect(forget_request_id, dispatch_uid="helpdesk-forget-request-id")
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())


# The id of the HTTP request (or socket) being handled, for every log line it writes (SPEC I7):
# the client's own ``X-Request-ID`` when it sent a sane one, else a new one; answered back in the
# response's ``X-Request-ID``.
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


_ids = random.Random()  # noqa: S311 (ids, not secrets)
os.register_at_fork(after_in_child=_ids.seed)


def new_request_id(given: str | None = None) -> str:
    """``given`` when it is a sane id (a proxy's or a client's), else a new random one."""
    if given and _SANE_ID.match(given):
        return given
    # Not uuid4(): its os.urandom() is a system call that lets go of the GIL, and under a burst
    # every request thread then waited for the GIL again (issue 8, a profile of the widget
    # burst). A request id needs to be unique, not unguessable: 128 bits of the process's
    # Mersenne Twister, seeded from the system's randomness (again after a fork).
    return f"{_ids.getrandbits(128):032x}"


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def forget_request_id(**_kwargs: object) -> None:
    """``request_finished``: the thread's later lines belong to no request."""
    request_id.set("-")
