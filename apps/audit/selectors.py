"""Reading the audit log: always one shop's, newest first (SPEC I5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from apps.audit.models import AuditEntry


@dataclass(frozen=True)
class AuditFilters:
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    actor: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def audit_entries(*, shop_id: int, filters: AuditFilters | None = None) -> QuerySet[AuditEntry]:
    rows = AuditEntry.objects.filter(shop_id=shop_id)
    f = filters or AuditFilters()
    if f.action:
        # "account" matches every account.* action; "account.created" that one alone.
        rows = (
            rows.filter(action=f.action)
            if "." in f.action
            else rows.filter(action__startswith=f"{f.action}.")
        )
    if f.target_type:
        rows = rows.filter(target_type=f.target_type)
    if f.target_id:
        rows = rows.filter(target_id=f.target_id)
    if f.actor is not None:
        rows = rows.filter(actor_id=f.actor)
    if f.since is not None:
        rows = rows.filter(created_at__gte=f.since)
    if f.until is not None:
        rows = rows.filter(created_at__lt=f.until)
    return rows.order_by("-created_at", "-id")
