"""Which quick replies a buyer's message calls for (SPEC D7): pure, no database."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class HasKeywords(Protocol):
    @property
    def keywords(self) -> Sequence[str]: ...


R = TypeVar("R", bound=HasKeywords)


@dataclass(frozen=True)
class Ranked(Generic[R]):
    reply: R
    matched: tuple[str, ...]  # the reply's keywords found in the message, in the reply's order


def matched_keywords(keywords: Iterable[str], message: str) -> tuple[str, ...]:
    """The keywords that occur in ``message`` (case and width of Latin letters ignored)."""
    text = message.casefold()
    return tuple(k for k in keywords if k and k.casefold() in text)


def ranked(replies: Sequence[R], message: str) -> list[Ranked[R]]:
    """Every reply, those whose keywords occur in ``message`` first (more matched keywords
    first), each group in the given order."""
    scored = [Ranked(r, matched_keywords(r.keywords, message)) for r in replies]
    return sorted(scored, key=lambda s: -len(s.matched))  # stable: keeps the given order
