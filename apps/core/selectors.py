"""Lookups shared by every domain."""

from __future__ import annotations

from typing import TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model, QuerySet

from apps.core.errors import NotFound

M = TypeVar("M", bound=Model)


def get_by_id(queryset: QuerySet[M], object_id: object, message: str) -> M:
    """The row of ``queryset`` (already scoped to the caller's shop) with that id. A missing,
    foreign or malformed id raises the same NotFound (SPEC A1)."""
    try:
        return queryset.get(pk=int(str(object_id)))
    except (ObjectDoesNotExist, ValueError):
        raise NotFound(message) from None
