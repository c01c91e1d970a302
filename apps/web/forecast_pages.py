"""The staffing forecast page (SPEC G4; docs/forecast.md).

The page sets a forecast up (a recorded day or an hourly curve, handling times, roster rows, the
target) and draws what ``POST /api/v1/forecast/`` answers: its script (``static/js/forecast.js``)
posts the form's fields under the API's names, with the page's session and CSRF token, and draws
the curves as inline SVG. Gated like the API: the main account or ``view_monitor`` (A4)."""

from __future__ import annotations

import json
from typing import Any

from django.urls import URLPattern, path
from django.utils.formats import date_format
from django.views.generic import TemplateView

from apps.accounts.permissions import Perm
from apps.conversations.forecasting import (
    MAX_ARRIVALS,
    MAX_SUGGEST_ARRIVALS,
    recorded_days,
    roster_agents,
)
from apps.routing.models import Group
from apps.web.mixins import ShopPermRequiredMixin

DEFAULT_TARGET_PERCENT = 80


class ForecastPage(ShopPermRequiredMixin, TemplateView):
    required_perm = Perm.VIEW_MONITOR
    template_name = "web/admin/forecast.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        shop = self.account.shop
        days = recorded_days(shop_id=shop.pk)
        settings = shop.settings
        context.update(
            days=[
                {
                    "value": d.day.isoformat(),
                    "label": date_format(d.day, "DATE_FORMAT"),
                    "weekday": date_format(d.day, "D"),
                    "total": d.total,
                    "hours": json.dumps(d.hours),
                }
                for d in days
            ],
            agents=roster_agents(shop_id=shop.pk),
            groups=list(Group.objects.filter(shop_id=shop.pk).order_by("name", "pk")),
            time_zone=shop.time_zone,
            default_max=settings.default_max_concurrent,
            avg_handling_seconds=settings.avg_handling_seconds,
            target_percent=DEFAULT_TARGET_PERCENT,
            max_arrivals=MAX_ARRIVALS,
            max_suggest=MAX_SUGGEST_ARRIVALS,
            hours=range(24),
        )
        return context


urlpatterns: list[URLPattern] = [
    path("admin/forecast/", ForecastPage.as_view(), name="admin-forecast"),
]
