"""The live board and metrics API (SPEC G2, G3; API.md, "Live board and metrics"): the main
account or ``view_monitor``, others 403. Everything is the caller's shop's; an ``agent`` or
``group`` of another shop answers 404 (SPEC A1)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api_permissions import HasShopPerm
from apps.accounts.models import Account
from apps.accounts.permissions import Perm, has_perm
from apps.core.errors import Forbidden, InvalidInput, NotFound
from apps.core.schema import UNKNOWN_REFERENCE
from apps.metrics.api.serializers import (
    MetricsQuerySerializer,
    MetricsSerializer,
    MonitorSerializer,
    QueueQuerySerializer,
    QueueReportSerializer,
    TargetsSerializer,
)
from apps.metrics.board import board_of
from apps.metrics.reports import (
    MAX_RANGE_DAYS,
    Period,
    agent_get,
    metrics_rows,
    period_of,
    queue_rows,
    targets_of,
)
from apps.metrics.services import targets_update
from apps.routing.models import Group


def _account(request: Request) -> Account:
    user = request.user
    assert isinstance(user, Account)
    return user


def _flat(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row for CSV: nested objects become ``<name>_<key>`` columns (the assignment reasons,
    the targets), lists and nulls as JSON would say them."""
    flat: dict[str, Any] = {}
    for name, value in row.items():
        if isinstance(value, Mapping):
            for key, inner in value.items():
                flat[f"{name}_{key}"] = inner
        else:
            flat[name] = value
    return flat


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class CSVRenderer(BaseRenderer):
    """``format=csv`` or ``Accept: text/csv``: the rows of ``results`` as CSV with a header line
    (API.md), the same rows and values as the JSON. Nested objects are spread over columns.
    Errors are JSON (``apps.core.api``); anything else without rows is its JSON in one cell."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        results = data.get("results") if isinstance(data, dict) else None
        if results is None:
            writer.writerow(["error"])
            writer.writerow([json.dumps(data, ensure_ascii=False)])
            return out.getvalue().encode()
        rows = [_flat(row) for row in results]
        header: list[str] = []
        for row in rows:
            header += [name for name in row if name not in header]
        for name in self.extra_columns(renderer_context):
            if name not in header:
                header.append(name)
        writer.writerow(header)
        for row in rows:
            writer.writerow([_cell(row.get(name)) for name in header])
        return ("\ufeff" + out.getvalue()).encode()  # a BOM: spreadsheet programs read UTF-8

    @staticmethod
    def extra_columns(renderer_context: Mapping[str, Any] | None) -> list[str]:
        view = (renderer_context or {}).get("view")
        return list(getattr(view, "csv_columns", []))


def _period(request: Request, query: dict[str, Any]) -> Period:
    period = period_of(
        _account(request).shop, query.get("date_from"), query.get("date_to"), timezone.now()
    )
    if (period.last - period.first).days >= MAX_RANGE_DAYS:
        raise InvalidInput(_("Ask for at most two years at a time."), field="date_from")
    return period


class MonitorView(APIView):
    """SPEC G2: the live board (``monitor.updated`` carries the same body)."""

    permission_classes = [HasShopPerm.of(Perm.VIEW_MONITOR)]

    @extend_schema(responses=MonitorSerializer)
    def get(self, request: Request) -> Response:
        return Response(board_of(_account(request).shop_id, timezone.now()))


CSV_DESCRIPTION = (
    "`format=csv` (or `Accept: text/csv`) answers the same rows as CSV with a header line "
    "(nested objects spread over `<name>_<key>` columns)."
)


class MetricsView(APIView):
    """SPEC G3: per agent and day, and the shop's row per day."""

    permission_classes = [HasShopPerm.of(Perm.VIEW_MONITOR)]
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, CSVRenderer]
    # Always in the CSV, even when no row has a reason yet (the engine's reasons).
    csv_columns = [
        f"assign_reasons_{r}"
        for r in (
            "rule",
            "queue",
            "recent_contact",
            "private_contact",
            "buyer_choice",
            "reentry",
            "main_paused",
            "offline_main",
            "pool",
        )
    ]

    @extend_schema(
        parameters=[MetricsQuerySerializer],
        responses={
            (200, "application/json"): MetricsSerializer,
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description=CSV_DESCRIPTION),
            404: UNKNOWN_REFERENCE,
        },
        description="Rows per day (the shop's time zone) and agent plus the shop's row per day "
        "(`agent` null); today's rows are computed when asked, the finished days come from the "
        "daily rows. " + CSV_DESCRIPTION,
    )
    def get(self, request: Request) -> Response:
        query = MetricsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        period = _period(request, query.validated_data)
        agent = None
        if "agent" in query.validated_data:
            agent = agent_get(period.shop.pk, query.validated_data["agent"])
        rows = metrics_rows(period, timezone.now(), agent)
        return Response({"results": rows})


class QueueReportView(APIView):
    """Seed 004 (买家数据): the queue per group and day: arrivals, waits, left the queue."""

    permission_classes = [HasShopPerm.of(Perm.VIEW_MONITOR)]
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, CSVRenderer]

    @extend_schema(
        parameters=[QueueQuerySerializer],
        responses={
            (200, "application/json"): QueueReportSerializer,
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description=CSV_DESCRIPTION),
            404: UNKNOWN_REFERENCE,
        },
        description="Per day: the whole shop's queue (`group` null) and each group's, for the "
        "buyers who waited for their first agent. " + CSV_DESCRIPTION,
    )
    def get(self, request: Request) -> Response:
        query = QueueQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        period = _period(request, query.validated_data)
        group = None
        if "group" in query.validated_data:
            group = Group.objects.filter(
                shop_id=period.shop.pk, pk=query.validated_data["group"]
            ).first()
            if group is None:
                raise NotFound(_("No such group."), field="group")
        return Response({"results": queue_rows(period, group)})


class TargetsView(APIView):
    """Seed 002 (考核): the shop's targets. Read: the main account, ``view_monitor`` or
    ``manage_settings``; change: the main account or ``manage_settings``."""

    @extend_schema(responses=TargetsSerializer)
    def get(self, request: Request) -> Response:
        account = _account(request)
        if not (has_perm(account, Perm.VIEW_MONITOR) or has_perm(account, Perm.MANAGE_SETTINGS)):
            raise Forbidden(_("Reading the targets needs the view_monitor permission."))
        values = targets_of(account.shop_id)
        return Response(TargetsSerializer(values).data)

    @extend_schema(request=TargetsSerializer, responses=TargetsSerializer)
    def patch(self, request: Request) -> Response:
        account = _account(request)
        if not has_perm(account, Perm.MANAGE_SETTINGS):
            raise Forbidden(_("Changing the targets needs the manage_settings permission."))
        data = TargetsSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        targets_update(actor=account, changes=dict(data.validated_data))
        return Response(TargetsSerializer(targets_of(account.shop_id)).data)
