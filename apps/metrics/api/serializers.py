"""The shapes of the board and metrics answers (API.md, "Live board and metrics"), for the
schema and the query parameters. The answers themselves are built by ``apps.metrics.board`` and
``apps.metrics.reports`` (one shape each, shared with ``monitor.updated`` and the CSV)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from apps.metrics.reports import MAX_RANGE_DAYS


class MonitorGroupSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(allow_null=True, help_text="null: the whole shop's queue")
    name = serializers.CharField()
    waiting = serializers.IntegerField()
    longest_wait_seconds = serializers.IntegerField()
    waiting_since = serializers.DateTimeField(allow_null=True)


class MonitorAgentSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    display_name = serializers.CharField()
    status = serializers.CharField()
    open_conversations = serializers.IntegerField()
    max_concurrent = serializers.IntegerField(help_text="the effective max of SPEC C1")
    group = serializers.IntegerField(allow_null=True)
    routing_enabled = serializers.BooleanField()
    conversations_today = serializers.IntegerField()
    first_response_2min_rate = serializers.FloatField(allow_null=True)
    targets_met = serializers.BooleanField(allow_null=True)


class MonitorTodaySerializer(serializers.Serializer[Any]):
    conversations = serializers.IntegerField()
    answered = serializers.IntegerField()
    first_response_2min_rate = serializers.FloatField(allow_null=True)
    avg_first_response_seconds = serializers.FloatField(allow_null=True)
    left_queue = serializers.IntegerField()
    ratings_count = serializers.IntegerField()
    ratings_avg = serializers.FloatField(allow_null=True)
    date = serializers.DateField()
    first_responses_within_2min = serializers.IntegerField()
    targets_met = serializers.BooleanField(allow_null=True)


class TargetsSerializer(serializers.Serializer[Any]):
    """The shop's targets (seed 002, 考核); null: no target."""

    first_response_2min_rate = serializers.FloatField(
        allow_null=True, required=False, min_value=0, max_value=1
    )
    avg_first_response_seconds = serializers.IntegerField(
        allow_null=True, required=False, min_value=1, max_value=24 * 3600
    )
    ratings_avg = serializers.FloatField(allow_null=True, required=False, min_value=1, max_value=5)


class MonitorSerializer(serializers.Serializer[Any]):
    groups = MonitorGroupSerializer(many=True)
    agents = MonitorAgentSerializer(many=True)
    today = MonitorTodaySerializer()
    generated_at = serializers.DateTimeField()
    targets = TargetsSerializer()


class TargetVerdictsSerializer(serializers.Serializer[Any]):
    first_response_2min_rate = serializers.BooleanField(allow_null=True)
    avg_first_response_seconds = serializers.BooleanField(allow_null=True)
    ratings_avg = serializers.BooleanField(allow_null=True)


class MetricsRowSerializer(serializers.Serializer[Any]):
    date = serializers.DateField()
    agent = serializers.IntegerField(allow_null=True, help_text="null: the whole shop")
    conversations = serializers.IntegerField()
    answered = serializers.IntegerField()
    first_responses_within_2min = serializers.IntegerField()
    first_response_2min_rate = serializers.FloatField(allow_null=True)
    avg_first_response_seconds = serializers.FloatField(allow_null=True)
    avg_handling_seconds = serializers.FloatField(allow_null=True)
    ratings_count = serializers.IntegerField()
    ratings_avg = serializers.FloatField(allow_null=True)
    left_queue = serializers.IntegerField()
    online_seconds = serializers.IntegerField()
    paused_seconds = serializers.IntegerField()
    agent_name = serializers.CharField()
    first_responses_rated = serializers.IntegerField(
        help_text="conversations whose 2-minute outcome is known (the rate's denominator)"
    )
    assign_reasons = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="first assignments by the routing engine's reason (rule, queue, reentry...)",
    )
    targets = TargetVerdictsSerializer()
    targets_met = serializers.BooleanField(allow_null=True)
    final = serializers.BooleanField(help_text="from the daily rows (false: computed live)")


class MetricsSerializer(serializers.Serializer[Any]):
    results = MetricsRowSerializer(many=True)


class QueueRowSerializer(serializers.Serializer[Any]):
    date = serializers.DateField()
    group = serializers.IntegerField(allow_null=True, help_text="null: the whole shop")
    group_name = serializers.CharField()
    arrivals = serializers.IntegerField()
    served = serializers.IntegerField()
    served_within_2min = serializers.IntegerField()
    left_queue = serializers.IntegerField()
    avg_wait_seconds = serializers.FloatField(allow_null=True)
    max_wait_seconds = serializers.FloatField(allow_null=True)
    final = serializers.BooleanField()


class QueueReportSerializer(serializers.Serializer[Any]):
    results = QueueRowSerializer(many=True)


class RangeQuerySerializer(serializers.Serializer[Any]):
    """``date_from``, ``date_to``: the shop's days (default today); at most two years."""

    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        first, last = attrs.get("date_from"), attrs.get("date_to")
        if first and last:
            if last < first:
                raise serializers.ValidationError(
                    {"date_to": [_("The end date is before the start date.")]}
                )
            if (last - first).days >= MAX_RANGE_DAYS:
                raise serializers.ValidationError(
                    {"date_to": [_("Ask for at most two years at a time.")]}
                )
        return attrs


class MetricsQuerySerializer(RangeQuerySerializer):
    agent = serializers.IntegerField(required=False, help_text="one agent's rows, every day")


class QueueQuerySerializer(RangeQuerySerializer):
    group = serializers.IntegerField(required=False, help_text="one group's rows, every day")
