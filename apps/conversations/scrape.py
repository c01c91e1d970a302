"""What ``/metrics`` reads from the conversations when scraped (SPEC I7; apps.core.metrics):
the queue's length per shop, exact whatever process queued the buyers."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from apps.conversations.models import Conversation, State
from apps.shops.models import Shop


class QueueLengthCollector(Collector):
    """``helpdesk_queue_length{shop}``: the buyers waiting in each shop's queue (0 included)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "helpdesk_queue_length", "Buyers waiting in the queue, per shop", labels=["shop"]
        )
        waiting = dict(
            Conversation.objects.filter(state=State.QUEUED)
            .values_list("shop_id")
            .annotate(n=Count("id"))
            .values_list("shop_id", "n")
        )
        for shop_id, slug in Shop.objects.values_list("id", "slug").order_by("slug"):
            family.add_metric([slug], waiting.get(shop_id, 0))
        yield family
