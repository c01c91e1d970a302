"""What ``/metrics`` reads of the webhooks when scraped (SPEC I7; apps.core.metrics): failed
attempts of the last hour, deliveries waiting for a retry, and endpoints switched off, per shop
that has webhooks, exact whatever worker made the attempts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from apps.integrations.models import DeliveryState, Webhook, WebhookAttempt, WebhookDelivery


class WebhookCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        since = timezone.now() - timedelta(hours=1)
        failed: dict[int, int] = dict(
            WebhookAttempt.objects.filter(created_at__gte=since, delivered=False)
            .values_list("shop_id")
            .annotate(n=Count("id"))
            .values_list("shop_id", "n")
        )
        pending: dict[int, int] = dict(
            WebhookDelivery.objects.filter(state=DeliveryState.PENDING, attempts__gt=0)
            .values_list("shop_id")
            .annotate(n=Count("id"))
            .values_list("shop_id", "n")
        )
        hooks = list(Webhook.objects.values_list("shop_id", "shop__slug", "is_active"))
        families = (
            GaugeMetricFamily(
                "helpdesk_webhook_failed_attempts_1h",
                "Webhook attempts that failed in the last hour, per shop",
                labels=["shop"],
            ),
            GaugeMetricFamily(
                "helpdesk_webhook_retries_waiting",
                "Webhook deliveries waiting for a retry after a failure, per shop",
                labels=["shop"],
            ),
            GaugeMetricFamily(
                "helpdesk_webhooks_switched_off",
                "Webhooks switched off (by the shop or after failing), per shop",
                labels=["shop"],
            ),
        )
        shops = sorted({(slug, shop_id) for shop_id, slug, _active in hooks})
        off: dict[int, int] = {}
        for shop_id, _slug, active in hooks:
            off[shop_id] = off.get(shop_id, 0) + (0 if active else 1)
        for slug, shop_id in shops:
            families[0].add_metric([slug], failed.get(shop_id, 0))
            families[1].add_metric([slug], pending.get(shop_id, 0))
            families[2].add_metric([slug], off.get(shop_id, 0))
        yield from families
