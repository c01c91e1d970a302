"""Domain errors, raised by services and mapped to HTTP (apps.core.api) and socket errors."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def as_payload(self) -> dict[str, Any]:
        if self.field:
            return {"errors": {self.field: [self.message]}}
        return {"detail": self.message}

    def headers(self) -> dict[str, str]:
        """HTTP headers of the answer (``Retry-After`` of a ``Throttled``)."""
        return {}


class InvalidInput(DomainError):
    """Bad input: 400 with the field named where there is one."""


class InvalidFields(InvalidInput):
    """Bad input on several fields at once: 400 with every field's messages, as a serializer
    answers (API.md, General)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(" ".join(m for messages in errors.values() for m in messages))
        self.errors = {field: [str(m) for m in messages] for field, messages in errors.items()}

    def as_payload(self) -> dict[str, Any]:
        return {"errors": self.errors}


class NotFound(DomainError):
    """Missing or another shop's: the same answer for both (SPEC A1)."""

    status_code = 404
    code = "not_found"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class Conflict(DomainError):
    """The object's state does not allow the action (e.g. closing a closed conversation)."""

    status_code = 409
    code = "conflict"


class Throttled(DomainError):
    """Too many requests (429 with ``Retry-After``; on a socket an ``error`` frame with code
    ``throttled`` and ``retry_after``): SPEC I6's per-buyer message rate."""

    status_code = 429
    code = "throttled"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))

    def as_payload(self) -> dict[str, Any]:
        return {"detail": self.message, "retry_after": self.retry_after}

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}
