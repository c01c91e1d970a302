"""``POST /api/v1/forecast/``: the staffing forecast (SPEC G4; docs/forecast.md).

The main account or ``view_monitor`` (A4: the dashboard and metrics), others 403. Per shop: the
roster's agent and group ids are checked against the caller's shop (another shop's id is
refused like a missing one). The answer is computed in the request, read-only: the live shop is
never written to (``apps.conversations.forecasting``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api_permissions import HasShopPerm
from apps.accounts.models import Account
from apps.accounts.permissions import Perm
from apps.conversations import forecasting
from apps.conversations.forecasting import (
    DISTRIBUTIONS,
    MAX_ARRIVALS,
    ForecastSpec,
    HandlingSpec,
    RosterRow,
)

DAY_SECONDS = 24 * 3600
MAX_ROSTER_ROWS = 500
# The days a forecast may replay: none before this one holds a recorded day, and far back the
# shop's time zone has a local mean time offset in seconds that no RFC 3339 time can carry (the
# schema contract run found "0240-08-04T00:00:00+08:05:43").
EARLIEST_DAY = dt.date(2000, 1, 1)
MAX_DURATION = 24 * 3600
HHMM = r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$"


def seconds_of(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 3600 + int(minutes) * 60


class ForecastHandlingSerializer(serializers.Serializer[dict[str, Any]]):
    distribution = serializers.ChoiceField(
        choices=DISTRIBUTIONS,
        default=forecasting.RECORDED,
        help_text=(
            "recorded: each replayed conversation keeps its own handling time (assignment to "
            "close); with a curve, times are drawn from the recorded day's. Else a distribution "
            "with mean_seconds (and sd_seconds for lognormal)."
        ),
    )
    mean_seconds = serializers.IntegerField(min_value=1, max_value=MAX_DURATION, required=False)
    sd_seconds = serializers.IntegerField(min_value=1, max_value=MAX_DURATION, required=False)
    date = serializers.DateField(
        required=False, help_text="The recorded day whose handling times a curve draws from."
    )
    reply_seconds = serializers.IntegerField(
        min_value=0,
        max_value=3600,
        required=False,
        help_text="With the welcome off (D1): assignment to the agent's first message.",
    )
    patience_seconds = serializers.IntegerField(
        min_value=1,
        max_value=MAX_DURATION,
        required=False,
        help_text="Generated buyers: the mean wait (exponential) before leaving the queue (C5).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        distribution = attrs["distribution"]
        if distribution != forecasting.RECORDED and "mean_seconds" not in attrs:
            raise serializers.ValidationError(
                {"mean_seconds": [_("Give the mean handling time in seconds.")]}
            )
        if "sd_seconds" in attrs and distribution != "lognormal":
            raise serializers.ValidationError(
                {"sd_seconds": [_("A standard deviation is for the lognormal distribution.")]}
            )
        return attrs


class ForecastRosterRowSerializer(serializers.Serializer[dict[str, Any]]):
    agent = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        help_text="An account of the shop (its own group).",
    )
    count = serializers.IntegerField(
        min_value=1,
        max_value=forecasting.MAX_ROSTER_AGENTS,
        required=False,
        allow_null=True,
        help_text="Agents to add (without `agent`; default 1).",
    )
    group = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, help_text="The added agents' group (B3)."
    )
    to = serializers.RegexField(HHMM, help_text='"HH:MM" in the shop\'s time zone; 24:00 ends it.')
    max_concurrent = serializers.IntegerField(
        min_value=1,
        max_value=50,
        required=False,
        allow_null=True,
        help_text="Default: the effective max (C1).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = {k: v for k, v in attrs.items() if v is not None}  # null: not given
        errors: dict[str, list[str]] = {}
        start, end = seconds_of(attrs["from"]), seconds_of(attrs["to"])
        if end <= start:
            errors["to"] = [_("A shift ends after it starts.")]
        if "agent" in attrs and "count" in attrs:
            errors["count"] = [_("Name an agent or give a count, not both.")]
        if "agent" in attrs and "group" in attrs:
            errors["group"] = [_("An account works in its own group.")]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


# "from" is a Python keyword: declared after the class, first in the field order.
ForecastRosterRowSerializer._declared_fields = {
    "from": serializers.RegexField(HHMM, help_text='"HH:MM" in the shop\'s time zone.'),
    **ForecastRosterRowSerializer._declared_fields,
}


class ForecastRequestSerializer(serializers.Serializer[dict[str, Any]]):
    date = serializers.DateField(
        required=False,
        help_text="Replay this recorded day (the shop's time zone): its buyers, and its roster "
        "unless `roster` is given.",
    )
    curve = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=MAX_ARRIVALS),
        min_length=24,
        max_length=24,
        required=False,
        help_text="24 hourly counts of buyers asking for a human, from midnight; replaces the "
        "recorded buyers.",
    )
    handling = ForecastHandlingSerializer(required=False)
    roster = ForecastRosterRowSerializer(many=True, required=False)
    target_rate = serializers.FloatField(min_value=0.01, max_value=1.0, default=0.8)
    suggest = serializers.BooleanField(default=False)
    suggest_max_concurrent = serializers.IntegerField(
        min_value=1,
        max_value=50,
        required=False,
        help_text="The suggested agents' max (default: their group's, else the shop's, C1).",
    )
    seed = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=0)

    def validate_date(self, value: dt.date) -> dt.date:
        latest = timezone.localdate() + dt.timedelta(days=366)
        if not EARLIEST_DAY <= value <= latest:
            raise serializers.ValidationError(
                _("Choose a day from %(first)s to a year from today.")
                % {"first": EARLIEST_DAY.isoformat()}
            )
        return value

    def validate_roster(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(rows) > MAX_ROSTER_ROWS:
            raise serializers.ValidationError(
                _("At most %(n)d roster rows.") % {"n": MAX_ROSTER_ROWS}
            )
        return rows

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "date" not in attrs and "curve" not in attrs:
            raise serializers.ValidationError(
                _("Give a recorded day (date) or an hourly curve (curve).")
            )
        curve = attrs.get("curve")
        if curve is not None and sum(curve) > MAX_ARRIVALS:
            raise serializers.ValidationError(
                {"curve": [_("At most %(n)d buyers a day.") % {"n": MAX_ARRIVALS}]}
            )
        return attrs

    def spec(self) -> ForecastSpec:
        data = self.validated_data
        handling = data.get("handling")
        roster = data.get("roster")
        return ForecastSpec(
            date=data.get("date"),
            curve=tuple(data["curve"]) if "curve" in data else None,
            handling=HandlingSpec(**handling) if handling is not None else None,
            roster=(
                tuple(
                    RosterRow(
                        start=seconds_of(row["from"]),
                        end=seconds_of(row["to"]),
                        agent=row.get("agent"),
                        count=row.get("count"),
                        max_concurrent=row.get("max_concurrent"),
                        group=row.get("group"),
                    )
                    for row in roster
                )
                if roster is not None
                else None
            ),
            target_rate=data["target_rate"],
            suggest=data["suggest"],
            suggest_max_concurrent=data.get("suggest_max_concurrent"),
            seed=data["seed"],
        )


# The answer, for the schema.


class ForecastRecordedBucketSerializer(serializers.Serializer[dict[str, Any]]):
    queue_avg = serializers.FloatField()
    queue_max = serializers.IntegerField()
    arrivals = serializers.IntegerField()
    rate_2min = serializers.FloatField(allow_null=True)


class ForecastBucketSerializer(serializers.Serializer[dict[str, Any]]):
    start = serializers.DateTimeField()
    arrivals = serializers.IntegerField(help_text="Buyers asking for a human in these 15 min.")
    queue_avg = serializers.FloatField(help_text="Buyers waiting in the queue, time average.")
    queue_max = serializers.IntegerField()
    wait_p50 = serializers.IntegerField(
        allow_null=True, help_text="Seconds from asking to the first response (the welcome)."
    )
    wait_p90 = serializers.IntegerField(allow_null=True)
    rate_2min = serializers.FloatField(
        allow_null=True, help_text="First response within 120 s of asking (0..1)."
    )
    answered_2min = serializers.IntegerField()
    load = serializers.FloatField(
        allow_null=True,
        help_text="Conversations held by online and paused agents over their summed max.",
    )
    recorded = ForecastRecordedBucketSerializer(
        allow_null=True, help_text="What the replayed day recorded, for comparison."
    )


class ForecastReplaySerializer(serializers.Serializer[dict[str, Any]]):
    queue_avg_mae = serializers.FloatField()
    queue_avg_max_error = serializers.FloatField()
    queue_max_mae = serializers.FloatField()
    recorded_rate_2min = serializers.FloatField(allow_null=True)


class ForecastSummarySerializer(serializers.Serializer[dict[str, Any]]):
    arrivals = serializers.IntegerField()
    answered = serializers.IntegerField()
    answered_2min = serializers.IntegerField()
    rate_2min = serializers.FloatField(allow_null=True)
    worst_hour_rate_2min = serializers.FloatField(allow_null=True)
    target_rate = serializers.FloatField()
    target_met = serializers.BooleanField(help_text="Every hour's 2-minute rate meets it.")
    left_queue = serializers.IntegerField()
    unanswered = serializers.IntegerField()
    wait_p50 = serializers.IntegerField(allow_null=True)
    wait_p90 = serializers.IntegerField(allow_null=True)
    queue_avg = serializers.FloatField()
    queue_max = serializers.IntegerField()
    load = serializers.FloatField(allow_null=True)
    agent_hours = serializers.FloatField()
    replay = ForecastReplaySerializer(allow_null=True)


class ForecastSuggestedRowSerializer(serializers.Serializer[dict[str, Any]]):
    count = serializers.IntegerField()
    to = serializers.CharField()
    max_concurrent = serializers.IntegerField()
    group = serializers.IntegerField(allow_null=True)


ForecastSuggestedRowSerializer._declared_fields = {
    "from": serializers.CharField(),
    **ForecastSuggestedRowSerializer._declared_fields,
}


class ForecastLineSerializer(serializers.Serializer[dict[str, Any]]):
    group = serializers.IntegerField(allow_null=True)
    count = serializers.IntegerField()


class ForecastHourSerializer(serializers.Serializer[dict[str, Any]]):
    start = serializers.DateTimeField()
    agents = ForecastLineSerializer(many=True)
    arrivals = serializers.IntegerField()
    rate_2min = serializers.FloatField(allow_null=True)


class ForecastSuggestionSerializer(serializers.Serializer[dict[str, Any]]):
    met = serializers.BooleanField()
    target_rate = serializers.FloatField()
    staffed_hours = serializers.FloatField()
    roster = ForecastSuggestedRowSerializer(many=True, help_text="Re-run it as `roster`.")
    hours = ForecastHourSerializer(many=True)
    summary = ForecastSummarySerializer()
    buckets = ForecastBucketSerializer(many=True)


class ForecastInputsSerializer(serializers.Serializer[dict[str, Any]]):
    arrivals = serializers.ChoiceField(choices=["recorded", "curve"])
    roster = serializers.ChoiceField(choices=["recorded", "given", "suggested"])
    handling = serializers.DictField()


class ForecastSerializer(serializers.Serializer[dict[str, Any]]):
    date = serializers.DateField()
    time_zone = serializers.CharField()
    inputs = ForecastInputsSerializer(
        help_text="What the forecast used: whose buyers, roster and handling."
    )
    buckets = ForecastBucketSerializer(many=True)
    summary = ForecastSummarySerializer()
    suggestion = ForecastSuggestionSerializer(allow_null=True)
    took_ms = serializers.IntegerField()


class ForecastView(APIView):
    """SPEC G4: a recorded day replayed, or an hourly curve simulated, through the shop's own
    routing rules and a roster, in simulated time."""

    permission_classes = [HasShopPerm.of(Perm.VIEW_MONITOR)]

    @extend_schema(
        request=ForecastRequestSerializer,
        responses=ForecastSerializer,
        description=(
            "SPEC G4, docs/forecast.md. Replays a recorded day (`date`) or simulates an hourly "
            "arrival curve (`curve`) through the product's routing engine and queue rules, "
            "against the shop's settings and groups and a roster (the recorded day's by "
            "default), and answers per 15 minutes: queue length, waits until the first "
            "response, the 2-minute rate and the agents' load. `suggest: true` adds the "
            "smallest roster (agents per hour) keeping every hour's 2-minute rate at or above "
            "`target_rate`. Read-only. The main account or `view_monitor` (else 403)."
        ),
        examples=[
            OpenApiExample(
                "A sale day's curve with a roster",
                request_only=True,
                value={
                    "curve": [0] * 8
                    + [40, 80, 120, 150, 150, 120, 100, 100]
                    + [120, 150, 200, 250, 200, 120, 60, 0],
                    "handling": {"distribution": "exponential", "mean_seconds": 480},
                    "roster": [
                        {"count": 6, "from": "08:00", "to": "16:00", "max_concurrent": 5},
                        {"count": 8, "from": "16:00", "to": "24:00", "max_concurrent": 5},
                    ],
                    "target_rate": 0.8,
                    "suggest": True,
                    "seed": 7,
                },
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = ForecastRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account: Account = request.user  # type: ignore[assignment]
        return Response(forecasting.forecast_run(shop_id=account.shop_id, spec=data.spec()))
