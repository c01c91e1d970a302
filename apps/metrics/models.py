"""Pre-aggregated metrics (SPEC G3) and the shop's targets (seed 002, 考核).

The daily rows hold sums and counts, never averages, so that any figure of a day is exact and a
row can be recomputed at any time from the conversations and status changes it sums
(``apps.metrics.figures``). The beat job ``metrics.aggregate_days`` writes the finished days;
today is always computed live (docs/metrics.md)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.core.models import ShopOwned


class DailyMetrics(ShopOwned):
    """One day (the shop's time zone) of one agent, or of the whole shop (``agent`` null)."""

    day = models.DateField()
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    conversations = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)
    within_2min = models.PositiveIntegerField(default=0)
    rated = models.PositiveIntegerField(default=0)  # whose 2-minute outcome was known
    first_response_seconds = models.FloatField(default=0)  # summed over the answered ones
    handled = models.PositiveIntegerField(default=0)  # closed after an agent had them
    handling_seconds = models.FloatField(default=0)
    ratings_count = models.PositiveIntegerField(default=0)
    ratings_sum = models.PositiveIntegerField(default=0)
    left_queue = models.PositiveIntegerField(default=0)
    online_seconds = models.PositiveIntegerField(default=0)
    paused_seconds = models.PositiveIntegerField(default=0)
    reasons = models.JSONField(default=dict, blank=True)  # first assignment reason -> count
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "day", "agent"],
                condition=Q(agent__isnull=False),
                name="dailymetrics_one_per_agent_day",
            ),
            models.UniqueConstraint(
                fields=["shop", "day"],
                condition=Q(agent__isnull=True),
                name="dailymetrics_one_per_shop_day",
            ),
        ]
        indexes = [models.Index(fields=["shop", "day"], name="dailymetrics_shop_day")]

    def __str__(self) -> str:
        return f"{self.shop_id} {self.day} {self.agent_id or 'shop'}"


class DailyQueueMetrics(ShopOwned):
    """One day of one group's queue, or of the whole shop's (``group`` null; seed 004)."""

    day = models.DateField()
    group = models.ForeignKey(
        "routing.Group", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    arrivals = models.PositiveIntegerField(default=0)
    served = models.PositiveIntegerField(default=0)
    served_within_2min = models.PositiveIntegerField(default=0)
    left_queue = models.PositiveIntegerField(default=0)
    wait_seconds = models.FloatField(default=0)  # summed over the served ones
    max_wait_seconds = models.FloatField(default=0)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "day", "group"],
                condition=Q(group__isnull=False),
                name="dailyqueue_one_per_group_day",
            ),
            models.UniqueConstraint(
                fields=["shop", "day"],
                condition=Q(group__isnull=True),
                name="dailyqueue_one_per_shop_day",
            ),
        ]
        indexes = [models.Index(fields=["shop", "day"], name="dailyqueue_shop_day")]

    def __str__(self) -> str:
        return f"{self.shop_id} {self.day} {self.group_id or 'shop'}"


class Targets(ShopOwned):
    """What the shop expects of each agent and day (seed 002: the 2-minute first-response rate
    is assessed, 考核); null: no target. The board and the metrics say met or not met."""

    first_response_2min_rate = models.FloatField(
        _("2-minute first-response rate"),
        null=True,
        blank=True,
        default=0.8,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
    )
    avg_first_response_seconds = models.PositiveIntegerField(
        _("average first response (seconds)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 3600)],
    )
    ratings_avg = models.FloatField(
        _("average rating"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1.0), MaxValueValidator(5.0)],
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop"], name="targets_one_per_shop")]

    def __str__(self) -> str:
        return f"targets of {self.shop_id}"
