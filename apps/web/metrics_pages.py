"""The live board, the metrics and the targets pages (SPEC G2, G3; seeds 002 考核, 004 买家数据).

The board and the metrics are for the main account and ``view_monitor`` (others get the 403
page), the targets for the main account and ``manage_settings``. The board is drawn from the same
body as ``GET /api/v1/monitor/`` and then follows ``monitor.updated`` on ``/ws/monitor/``
(``static/js/board.js``: no polling); the metrics page renders its tables here and its charts in
the browser (``static/js/metrics.js``, Chart.js shipped in ``static/vendor/chartjs/``) from the
same rows as ``GET /api/v1/metrics/``."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import FormView, TemplateView

from apps.accounts.models import Account
from apps.accounts.permissions import Perm, has_perm
from apps.core.errors import DomainError
from apps.metrics.board import board_of
from apps.metrics.figures import SHOP, Figures
from apps.metrics.reports import (
    MAX_RANGE_DAYS,
    all_met,
    judge,
    metrics_figures,
    metrics_rows,
    period_of,
    queue_rows,
    targets_of,
)
from apps.metrics.services import targets_update
from apps.routing import engine
from apps.routing.models import AgentState
from apps.web.forms import add_domain_error
from apps.web.mixins import ShopPermRequiredMixin

DEFAULT_DAYS = 7

# The routing engine's reasons (``engine.Reason``), as a shop owner reads them.
REASON_LABELS = {
    engine.Reason.RULE.value: gettext_lazy("Assignment rule"),
    engine.Reason.QUEUE.value: gettext_lazy("From the queue"),
    engine.Reason.RECENT_CONTACT.value: gettext_lazy("Recent contact"),
    engine.Reason.PRIVATE_CONTACT.value: gettext_lazy("Private contact"),
    engine.Reason.BUYER_CHOICE.value: gettext_lazy("Buyer's choice"),
    engine.Reason.REENTRY.value: gettext_lazy("Re-entry"),
    engine.Reason.MAIN_PAUSED.value: gettext_lazy("Main account (all paused)"),
    engine.Reason.OFFLINE_MAIN.value: gettext_lazy("Main account (offline message)"),
    engine.Reason.POOL.value: gettext_lazy("Message pool"),
    engine.Reason.TRANSFER.value: gettext_lazy("Transfer"),
}


class BoardPage(ShopPermRequiredMixin, TemplateView):
    """SPEC G2: waiting buyers per group, agents by status with their load, today's figures."""

    required_perm = Perm.VIEW_MONITOR
    template_name = "web/admin/board.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["board"] = board_of(self.account.shop_id, timezone.now())
        return context


def _date_input() -> forms.DateInput:
    """A date input's value is ISO whatever the language (Django would localize it: 2026/11/25,
    which the browser's date picker shows as empty)."""
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class MetricsFilterForm(forms.Form):
    date_from = forms.DateField(label=gettext_lazy("From"), required=False, widget=_date_input())
    date_to = forms.DateField(label=gettext_lazy("To"), required=False, widget=_date_input())
    agent = forms.TypedChoiceField(
        label=gettext_lazy("Agent"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, *args: Any, agents: list[Account], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["agent"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", _("All agents"))] + [(a.pk, _label(a)) for a in agents]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("date_from"), data.get("date_to")
        if first and last and last < first:
            self.add_error("date_to", _("The end date is before the start date."))
        elif first and last and (last - first).days >= MAX_RANGE_DAYS:
            self.add_error("date_to", _("Ask for at most two years at a time."))
        return data


def _label(account: Account) -> str:
    return account.display_name or account.name or account.shop.name


def _hours(seconds: int) -> float:
    return round(seconds / 3600, 1)


class MetricsPage(ShopPermRequiredMixin, TemplateView):
    """SPEC G3: per day and agent, a date range, one agent's days, CSV export, charts."""

    required_perm = Perm.VIEW_MONITOR
    template_name = "web/admin/metrics.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        shop = self.account.shop
        now = timezone.now()
        today = period_of(shop, None, None, now).today
        agents = list(
            Account.objects.filter(shop=shop).select_related("shop").order_by("kind", "pk")
        )
        first, last, agent = today - timedelta(days=DEFAULT_DAYS - 1), today, None
        form = MetricsFilterForm(
            self.request.GET or None,
            agents=agents,
            initial={"date_from": first, "date_to": last},
        )
        if form.is_bound and form.is_valid():
            first = form.cleaned_data["date_from"] or first
            last = form.cleaned_data["date_to"] or last
            agent = next((a for a in agents if a.pk == form.cleaned_data["agent"]), None)
            if first > last:
                first = last
        period = period_of(shop, first, last, now)
        rows = metrics_rows(period, now, agent)
        queue = queue_rows(period)
        targets = targets_of(shop.pk)
        dates = {"date_from": first.isoformat(), "date_to": last.isoformat()}
        query = dict(dates)
        if agent is not None:
            query["agent"] = str(agent.pk)
        context.update(
            form=form,
            period=period,
            agent=agent,
            rows=rows,
            day_rows=[r for r in rows if r["agent"] is None or agent is not None],
            agent_totals=self._agent_totals(period, now, agent, agents),
            queue=queue,
            targets=targets,
            reasons=REASON_LABELS,
            csv_url=f"{reverse('metrics')}?{urlencode({**query, 'format': 'csv'})}",
            queue_csv_url=f"{reverse('metrics-queue')}?{urlencode({**dates, 'format': 'csv'})}",
            chart_data={
                "rows": rows,
                "queue": [q for q in queue if q["group"] is None],
                "targets": {"first_response_2min_rate": targets.first_response_2min_rate},
                "reasons": {k: str(v) for k, v in REASON_LABELS.items()},
            },
            can_set_targets=has_perm(self.account, Perm.MANAGE_SETTINGS),
            ranges=self._ranges(today, agent),
            today=today.isoformat(),
        )
        return context

    @staticmethod
    def _ranges(today: date, agent: Account | None) -> list[tuple[str, str]]:
        out = []
        for label, days in ((_("Today"), 1), (_("Last 7 days"), 7), (_("Last 30 days"), 30)):
            query = {
                "date_from": (today - timedelta(days=days - 1)).isoformat(),
                "date_to": today.isoformat(),
            }
            if agent is not None:
                query["agent"] = str(agent.pk)
            out.append((label, "?" + urlencode(query)))
        return out

    @staticmethod
    def _agent_totals(
        period: Any, now: Any, agent: Account | None, agents: list[Account]
    ) -> list[dict[str, Any]]:
        """Each agent's figures summed over the period (seed 002 question 6: why one agent gets
        more buyers than another), with the days it met the targets."""
        found, _final = metrics_figures(period, now, agent.pk if agent is not None else None)
        targets = targets_of(period.shop.pk)
        totals: dict[int | None, Figures] = {}
        met: dict[int | None, list[int]] = {}
        for (day, agent_id), figures in found.items():
            if not period.first <= day <= period.last:
                continue
            totals.setdefault(agent_id, Figures()).add(figures)
            verdict = all_met(judge(figures, targets))
            if verdict is not None:
                counts = met.setdefault(agent_id, [0, 0])
                counts[0] += int(verdict)
                counts[1] += 1
        names = {a.pk: _label(a) for a in agents}
        states = dict(
            AgentState.objects.filter(shop_id=period.shop.pk).values_list("account_id", "status")
        )
        out = []
        for agent_id, figures in sorted(
            totals.items(), key=lambda i: (i[0] is not None, i[0] or 0)
        ):
            if agent_id is not SHOP and (figures.empty or agent_id not in names):
                continue
            days_met = met.get(agent_id, [0, 0])
            out.append(
                {
                    "agent": agent_id,
                    "name": names.get(agent_id, "") if agent_id is not None else "",
                    "status": states.get(agent_id, "") if agent_id is not None else "",
                    "figures": figures,
                    "online_hours": _hours(figures.online_seconds),
                    "paused_hours": _hours(figures.paused_seconds),
                    "reasons": [
                        (REASON_LABELS.get(r, r), n)
                        for r, n in sorted(figures.reasons.items(), key=lambda i: -i[1])
                    ],
                    "days_met": days_met[0],
                    "days_judged": days_met[1],
                    "targets_met": all_met(judge(figures, targets)),
                }
            )
        return out


class TargetsForm(forms.Form):
    """The targets, under the API's names; the rate in percent here (0..1 in the API)."""

    first_response_2min_rate = forms.IntegerField(
        label=gettext_lazy("2-minute first-response rate (%)"),
        required=False,
        min_value=0,
        max_value=100,
        help_text=gettext_lazy(
            "The share of buyers answered within 2 minutes of asking for a human, queue time "
            "included (the welcome counts). Empty: no target."
        ),
    )
    avg_first_response_seconds = forms.IntegerField(
        label=gettext_lazy("Average first response (seconds)"),
        required=False,
        min_value=1,
        max_value=24 * 3600,
        help_text=gettext_lazy("At most this many seconds on average. Empty: no target."),
    )
    ratings_avg = forms.DecimalField(
        label=gettext_lazy("Average rating"),
        required=False,
        min_value=1,
        max_value=5,
        decimal_places=1,
        help_text=gettext_lazy("At least this average score (1-5). Empty: no target."),
    )


class TargetsPage(ShopPermRequiredMixin, FormView):
    """Seed 002 (考核): what the board and the metrics judge each agent and day against."""

    required_perm = Perm.MANAGE_SETTINGS
    template_name = "web/admin/targets.html"
    form_class = TargetsForm

    def get_initial(self) -> dict[str, Any]:
        targets = targets_of(self.account.shop_id)
        rate = targets.first_response_2min_rate
        return {
            "first_response_2min_rate": None if rate is None else round(rate * 100),
            "avg_first_response_seconds": targets.avg_first_response_seconds,
            "ratings_avg": targets.ratings_avg,
        }

    def form_valid(self, form: TargetsForm) -> HttpResponse:
        data = form.cleaned_data
        rate, rating = data["first_response_2min_rate"], data["ratings_avg"]
        changes = {
            "first_response_2min_rate": None if rate is None else rate / 100,
            "avg_first_response_seconds": data["avg_first_response_seconds"],
            "ratings_avg": None if rating is None else float(rating),
        }
        try:
            targets_update(actor=self.account, changes=changes)
        except DomainError as error:
            add_domain_error(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("The targets were saved."))
        return redirect("web:admin-targets")


urlpatterns: list[URLPattern] = [
    path("admin/board/", BoardPage.as_view(), name="admin-board"),
    path("admin/metrics/", MetricsPage.as_view(), name="admin-metrics"),
    path("admin/targets/", TargetsPage.as_view(), name="admin-targets"),
]
