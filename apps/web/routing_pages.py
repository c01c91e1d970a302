"""The routing and queue settings and business hours pages (SPEC B, C, D2, G1; issue 9).

Both save through ``settings_update``, the service behind ``PATCH /api/v1/settings/``: one call,
one transaction, every error at once, nothing written on error. Each input's name is the API's
field name (the hours page's rows: ``weekly-<n>-start`` etc., the fields of API.md's
``business_hours`` entries inside a formset)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.forms import formset_factory
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import FormView, TemplateView

from apps.accounts.permissions import Perm
from apps.automation import hours
from apps.backoffice.shop_settings import MAX_TIMEOUT, ROUTING_FIELDS, settings_update
from apps.core.errors import DomainError, InvalidFields
from apps.routing.models import Group
from apps.shops.models import (
    AssignmentRule,
    OfflineHandling,
    QueueMode,
    QueueOrder,
    ShopSettings,
)
from apps.web.forms import add_domain_error
from apps.web.mixins import ShopPermRequiredMixin

# --- Durations: a number and a unit, posted under the API's name --------------------------------

UNIT_SECONDS = "1"
UNIT_MINUTES = "60"


class DurationWidget(forms.MultiWidget):
    """``<name>`` (the number, the API's field name) and ``<name>_unit`` (seconds or minutes).
    Shown in minutes when the value is whole minutes, else in seconds."""

    use_fieldset = False

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(
            {
                "": forms.NumberInput(attrs={"inputmode": "numeric", "step": "1"}),
                "unit": forms.Select(
                    choices=[
                        (UNIT_SECONDS, gettext_lazy("seconds")),
                        (UNIT_MINUTES, gettext_lazy("minutes")),
                    ],
                    attrs={"aria-label": gettext_lazy("Unit")},
                ),
            },
            attrs,
        )

    def decompress(self, value: Any) -> list[Any]:
        if value in (None, ""):
            return [None, UNIT_MINUTES]
        seconds = int(value)
        if seconds and seconds % 60 == 0:
            return [seconds // 60, UNIT_MINUTES]
        return [seconds, UNIT_SECONDS]

    def id_for_label(self, id_: str) -> str:
        return f"{id_}_0" if id_ else id_


class DurationField(forms.MultiValueField):
    """Whole seconds from a number and a unit; a number posted alone is seconds (as the API)."""

    widget = DurationWidget

    def __init__(self, *, min_seconds: int, **kwargs: Any) -> None:
        self.min_seconds = min_seconds
        fields = (
            forms.IntegerField(),
            forms.ChoiceField(choices=[(UNIT_SECONDS, ""), (UNIT_MINUTES, "")], required=False),
        )
        super().__init__(fields, require_all_fields=False, **kwargs)

    def compress(self, data_list: list[Any]) -> int | None:
        if not data_list or data_list[0] in (None, ""):
            return None
        return int(data_list[0]) * int(data_list[1] or UNIT_SECONDS)

    def clean(self, value: Any) -> int | None:
        seconds = super().clean(value)
        if seconds is None:
            return None
        if seconds < self.min_seconds:
            if self.min_seconds:
                raise forms.ValidationError(_("Must be at least 1 second."))
            raise forms.ValidationError(_("Must be 0 (off) or more."))
        if seconds > MAX_TIMEOUT:  # a week, as the settings service's timeouts
            raise forms.ValidationError(_("Must be at most a week."))
        return seconds


class GroupsField(forms.TypedMultipleChoiceField):
    """The shop's groups as checkboxes. Any id is passed on: the settings service names the ones
    that are not the shop's (SPEC A1), so the page and the API say the same."""

    def valid_value(self, value: Any) -> bool:
        return str(value).isdigit()


# --- The routing and queue settings (SPEC B5-B11, C1-C6) ----------------------------------------


class RoutingSettingsForm(forms.Form):
    """Every field of ``ROUTING_FIELDS``, under the settings API's names."""

    # Assignment
    assignment_rule = forms.ChoiceField(
        label=gettext_lazy("Assignment rule"),
        choices=AssignmentRule.choices,
        widget=forms.RadioSelect,
        help_text=gettext_lazy(
            "Remaining capacity: the buyer goes to the eligible agent with the lowest load (open "
            "conversations divided by max concurrent); a tie goes to the higher weight, then to "
            "the agent who has waited longest since their last buyer. Even distribution: a "
            "weighted round robin, so each agent's count today is proportional to their weight; "
            "it starts again at midnight shop time, and an agent who comes online later starts "
            "from zero, without catching up."
        ),
    )
    recent_contact_first = forms.BooleanField(
        label=gettext_lazy("Recent contact first"),
        required=False,
        help_text=gettext_lazy(
            "A returning buyer (after the re-entry window) goes to the agent who served them "
            "last, if that agent is online or paused and below max concurrent."
        ),
    )
    reentry_window_seconds = DurationField(
        label=gettext_lazy("Re-entry window"),
        min_seconds=0,
        help_text=gettext_lazy(
            "A buyer whose conversation ended less than this long ago goes straight back to the "
            "same agent, even past max concurrent, if that agent is online or paused; if it is "
            "offline, to an agent of the same group, else the queue. 0 turns it off."
        ),
    )
    buyer_chooses_agent = forms.BooleanField(
        label=gettext_lazy("Buyers choose their agent"),
        required=False,
        help_text=gettext_lazy(
            "The widget lists the online and paused agents. A chosen agent below max concurrent "
            "gets the buyer; otherwise the buyer is told and routed as usual."
        ),
    )
    default_max_concurrent = forms.IntegerField(
        label=gettext_lazy("Max concurrent per agent"),
        min_value=1,
        max_value=50,
        help_text=gettext_lazy(
            "How many buyers an agent serves at once, 1-50, unless their group or their own "
            "setting says otherwise (the most specific wins)."
        ),
    )
    agents_set_own_max = forms.BooleanField(
        label=gettext_lazy("Agents may set their own max concurrent"),
        required=False,
        help_text=gettext_lazy("In the workbench, within 1-50."),
    )
    # Queue
    queue_mode = forms.ChoiceField(
        label=gettext_lazy("Who waits in the queue"),
        choices=QueueMode.choices,
        widget=forms.RadioSelect,
        help_text=gettext_lazy(
            "Whole shop: when every candidate is at max concurrent, the buyer waits in the queue "
            "while any candidate is online or paused. Chosen groups: only the buyers of those "
            "groups wait; the others go straight to routing. Off (and chosen groups while the "
            "shop has no groups): nobody waits and max concurrent is not enforced, the rule "
            "chooses among all eligible agents as if nobody were full."
        ),
    )
    queue_groups = GroupsField(
        label=gettext_lazy("Groups that queue"),
        required=False,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Used when the queue is on for chosen groups."),
    )
    queue_order = forms.ChoiceField(
        label=gettext_lazy("Queue order"),
        choices=QueueOrder.choices,
        widget=forms.RadioSelect,
        help_text=gettext_lazy("Which waiting buyer takes a slot first when one frees."),
    )
    avg_handling_seconds = DurationField(
        label=gettext_lazy("Average handling time"),
        min_seconds=1,
        help_text=gettext_lazy(
            "For the wait estimate buyers see in the queue: position times this time, divided "
            "by the summed max concurrent of their online and paused candidates."
        ),
    )
    # Offline agents
    offline_routing = forms.BooleanField(
        label=gettext_lazy("Re-route when an agent goes offline"),
        required=False,
        help_text=gettext_lazy(
            "On: the conversations of an agent who goes offline go to the other eligible agents "
            "of their candidates (else the front of the queue), and a new buyer whose candidates "
            "are all offline goes to any account that takes part in routing. Off: they stay with "
            "that agent as offline messages, and such a buyer goes straight to offline handling."
        ),
    )
    offline_grace_seconds = DurationField(
        label=gettext_lazy("Lost connection counts as offline after"),
        min_seconds=1,
        help_text=gettext_lazy(
            "How long an agent's workbench may be unreachable before the agent counts as offline."
        ),
    )
    offline_handling = forms.ChoiceField(
        label=gettext_lazy("When nobody can take a buyer"),
        choices=OfflineHandling.choices,
        widget=forms.RadioSelect,
        help_text=gettext_lazy(
            "When every candidate is offline. Main account: the conversation goes to the main "
            "account as an offline message, whatever its status or max concurrent. Message pool: "
            "it waits in the pool, with no agent, until an agent claims it."
        ),
    )
    pool_auto_assign = forms.BooleanField(
        label=gettext_lazy("Hand out the message pool automatically"),
        required=False,
        help_text=gettext_lazy(
            "Pooled conversations go, oldest first, to agents as they become eligible and free "
            "(after the buyers waiting in the queue)."
        ),
    )

    SECTIONS = (
        (
            gettext_lazy("Assignment"),
            (
                "assignment_rule",
                "recent_contact_first",
                "reentry_window_seconds",
                "buyer_chooses_agent",
                "default_max_concurrent",
                "agents_set_own_max",
            ),
        ),
        (
            gettext_lazy("Queue"),
            ("queue_mode", "queue_groups", "queue_order", "avg_handling_seconds"),
        ),
        (
            gettext_lazy("Offline agents"),
            ("offline_routing", "offline_grace_seconds", "offline_handling", "pool_auto_assign"),
        ),
    )

    def __init__(self, *args: Any, groups: list[Group], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["queue_groups"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(g.pk, g.name) for g in groups]

    def sections(self) -> list[tuple[Any, list[forms.BoundField]]]:
        return [(title, [self[name] for name in names]) for title, names in self.SECTIONS]


def _duration(seconds: int) -> str:
    if seconds % 60 == 0:
        return _("%(n)d min") % {"n": seconds // 60}
    return _("%(n)d s") % {"n": seconds}


@dataclass(frozen=True)
class Step:
    """One step of the routing decision, in order, as the current settings make it."""

    title: str
    text: str
    active: bool = True


def routing_steps(settings: ShopSettings, groups: list[Group]) -> list[Step]:
    """How a buyer asking for a human is routed, in the engine's order of precedence
    (``apps.routing.engine.STEPS``, docs/routing.md), worded from the shop's settings."""
    rule = AssignmentRule(settings.assignment_rule)
    window = settings.reentry_window_seconds
    names = {g.pk: g.name for g in groups}
    queue_on = settings.queue_mode == QueueMode.SHOP or (
        settings.queue_mode == QueueMode.GROUPS and bool(groups)
    )
    if settings.queue_mode == QueueMode.GROUPS and groups:
        chosen = [names[g] for g in settings.queue_groups if g in names]
        queue_where = _("only for the groups %(names)s") % {"names": ", ".join(chosen) or "-"}
    else:
        queue_where = _("for the whole shop")
    order = QueueOrder(settings.queue_order).label
    rule_text = (
        _("the lowest load (open conversations / max concurrent) first, then the higher weight")
        if rule == AssignmentRule.CAPACITY
        else _("in turn, in proportion to the agents' weights")
    )
    if not queue_on:
        max_text = _("max concurrent is not enforced while the queue is off")
    elif settings.queue_mode == QueueMode.GROUPS:
        max_text = _(
            "below max concurrent (%(n)d unless the group or agent sets another) for the buyers "
            "of groups that queue, not enforced for the others"
        ) % {"n": settings.default_max_concurrent}
    else:
        max_text = _(
            "only agents below max concurrent (%(n)d unless the group or agent sets another)"
        ) % {"n": settings.default_max_concurrent}
    return [
        Step(_("Private contacts"), _("Always go to the main account, whatever its status.")),
        Step(
            _("Re-entry window"),
            _("A buyer back within %(t)s goes to the same agent, even past max concurrent.")
            % {"t": _duration(window)}
            if window
            else _("Off."),
            active=window > 0,
        ),
        Step(
            _("Buyer's choice"),
            _("The agent the buyer chose, if online or paused and below max concurrent.")
            if settings.buyer_chooses_agent
            else _("Off."),
            active=settings.buyer_chooses_agent,
        ),
        Step(
            _("Recent contact"),
            _("The agent who served the buyer last, if online or paused and below max concurrent.")
            if settings.recent_contact_first
            else _("Off."),
            active=settings.recent_contact_first,
        ),
        Step(
            _("Reception scope"),
            _(
                "The agents of the groups whose scope matches the buyer: segment, then product, "
                "then intent, then order status; else the groups without a scope."
            )
            if groups
            else _("No groups (simple mode): every account that takes part in routing."),
        ),
        Step(
            _("All candidates offline"),
            _("Widen to every account that takes part in routing.")
            if settings.offline_routing
            else _("Offline handling at once."),
        ),
        Step(
            str(rule.label),
            _("Among the online agents: %(rule)s; %(max)s.") % {"max": max_text, "rule": rule_text},
        ),
        Step(
            _("Paused main account"),
            _("When every sub-account is offline, a paused main account still gets the buyer."),
        ),
        Step(
            _("Queue"),
            _("Everyone full: the buyer waits %(where)s, %(order)s.")
            % {"where": queue_where, "order": str(order).lower()}
            if queue_on
            else _("Off: nobody waits."),
            active=queue_on,
        ),
        Step(
            _("Offline handling"),
            _("Nobody online or paused: the main account gets it as an offline message.")
            if settings.offline_handling == OfflineHandling.MAIN_ACCOUNT
            else (
                _("Nobody online or paused: the message pool, handed out automatically.")
                if settings.pool_auto_assign
                else _("Nobody online or paused: the message pool, until an agent claims it.")
            ),
        ),
    ]


class RoutingSettingsPage(ShopPermRequiredMixin, FormView):
    """SPEC B and C settings in three sections, and the routing order they make (G1, A4)."""

    required_perm = Perm.MANAGE_ROUTING
    template_name = "web/admin/routing.html"
    form_class = RoutingSettingsForm

    def groups(self) -> list[Group]:
        return list(Group.objects.filter(shop_id=self.account.shop_id).order_by("name"))

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs["groups"] = self.groups()
        return kwargs

    def get_initial(self) -> dict[str, Any]:
        s = ShopSettings.objects.get(shop_id=self.account.shop_id)
        return {name: getattr(s, name) for name in ROUTING_FIELDS}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        groups = self.groups()
        settings = ShopSettings.objects.get(shop_id=self.account.shop_id)
        context.update(steps=routing_steps(settings, groups), has_groups=bool(groups))
        return context

    def form_valid(self, form: RoutingSettingsForm) -> HttpResponse:
        try:
            settings_update(actor=self.account, changes=dict(form.cleaned_data))
        except DomainError as error:
            add_domain_error(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("The routing and queue settings were saved."))
        return redirect("web:admin-routing")


# --- Business hours (SPEC D2) -------------------------------------------------------------------

HHMM = re.compile(r"^(\d{1,2}):([0-5]\d)$")
WEEKDAYS = (
    gettext_lazy("Monday"),
    gettext_lazy("Tuesday"),
    gettext_lazy("Wednesday"),
    gettext_lazy("Thursday"),
    gettext_lazy("Friday"),
    gettext_lazy("Saturday"),
    gettext_lazy("Sunday"),
)
TIME_ATTRS = {
    "inputmode": "numeric",
    "placeholder": "09:00",
    "maxlength": "5",
    "pattern": "[0-9]{1,2}:[0-9]{2}",
    "autocomplete": "off",
    "class": "hours-time",
}


def _hhmm(value: str) -> str:
    """``9:00`` -> ``09:00``; ``24:00`` only (as an end, checked by the row)."""
    match = HHMM.match(value.strip())
    if not match or int(match[1]) > 24 or (int(match[1]) == 24 and match[2] != "00"):
        raise forms.ValidationError(_("Enter a time as HH:MM, e.g. 09:00 (24:00 ends the day)."))
    return f"{int(match[1]):02d}:{match[2]}"


class TimeText(forms.CharField):
    def __init__(self, label: Any) -> None:
        super().__init__(
            label=label, required=False, max_length=5, widget=forms.TextInput(attrs=TIME_ATTRS)
        )

    def clean(self, value: Any) -> str:
        text = super().clean(value)
        return _hhmm(text) if text else ""


def _range_errors(form: forms.Form, start: str, end: str) -> None:
    if start == "24:00":
        form.add_error("start", _("24:00 is only an end."))
    elif start >= end:
        form.add_error("end", _("The end comes after the start."))


class WeeklySlotForm(forms.Form):
    """One opening range of a weekday; a row left empty is no range."""

    weekday = forms.TypedChoiceField(
        choices=[(d, d) for d in range(7)], coerce=int, widget=forms.HiddenInput
    )
    start = TimeText(gettext_lazy("From"))
    end = TimeText(gettext_lazy("To"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if self.errors:
            return data
        if bool(start) != bool(end):
            self.add_error("end" if start else "start", _("Enter both the start and the end."))
        elif start and end:
            _range_errors(self, start, end)
        return data

    def is_blank(self) -> bool:
        return not (self.cleaned_data.get("start") or self.cleaned_data.get("end"))


class ExceptionForm(forms.Form):
    """A dated exception: closed all day, or open from ``start`` to ``end`` instead."""

    date = forms.DateField(
        label=gettext_lazy("Date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    closed = forms.BooleanField(label=gettext_lazy("Closed all day"), required=False)
    start = TimeText(gettext_lazy("From"))
    end = TimeText(gettext_lazy("To"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors or self.is_blank():
            return data
        start, end = data.get("start"), data.get("end")
        if not data.get("date"):
            self.add_error("date", _("Enter the date."))
        if data.get("closed"):
            if start or end:
                self.add_error("closed", _("A closed day has no hours: clear them or untick it."))
        elif not (start and end):
            self.add_error("start", _("Tick closed, or enter the hours of that day."))
        elif start and end:
            _range_errors(self, start, end)
        return data

    def is_blank(self) -> bool:
        data = self.cleaned_data
        return not (data.get("date") or data.get("closed") or data.get("start") or data.get("end"))


def _overlaps(rows: list[tuple[forms.Form, str, str]], message: str) -> None:
    """Marks each range that begins before an earlier one of the same day ends."""
    latest_end = ""
    for form, start, end in sorted(rows, key=lambda row: (row[1], row[2])):
        if latest_end and start < latest_end:
            form.add_error("start", message)
        latest_end = max(latest_end, end)


@dataclass(frozen=True)
class Day:
    weekday: int
    name: str
    close: bool  # "close this day" ticked (a posted page): its ranges are dropped
    open: bool  # has a range
    rows: list[forms.Form]


class _RowsFormSet(forms.BaseFormSet):  # type: ignore[type-arg]
    def kept(self) -> list[Any]:
        """The rows that say something: neither ticked "remove" nor left empty."""
        return [
            f
            for f in self.forms
            if not f.errors and not f.cleaned_data.get("DELETE") and not f.is_blank()
        ]


class BaseWeeklyFormSet(_RowsFormSet):
    def clean(self) -> None:
        # Rows with their own errors are left out: the others are still checked together, so
        # every problem shows at once.
        days: dict[int, list[tuple[forms.Form, str, str]]] = {}
        for form in self.kept():
            data = form.cleaned_data
            if data["weekday"] in self.closed_days:
                continue
            days.setdefault(data["weekday"], []).append((form, data["start"], data["end"]))
        for rows in days.values():
            _overlaps(rows, _("Overlaps another range of this day."))

    closed_days: frozenset[int] = frozenset()

    def value(self) -> list[dict[str, Any]]:
        slots = [
            {
                "weekday": f.cleaned_data["weekday"],
                "start": f.cleaned_data["start"],
                "end": f.cleaned_data["end"],
            }
            for f in self.kept()
            if f.cleaned_data["weekday"] not in self.closed_days
        ]
        return sorted(slots, key=lambda s: (s["weekday"], s["start"]))

    def by_day(self) -> list[Day]:
        """The grid: each weekday, Monday first (``weekday`` 0, as hours.py), with its rows."""
        rows: dict[int, list[forms.Form]] = {d: [] for d in range(7)}
        for form in self.forms:
            raw = form["weekday"].value()
            try:
                day = int(raw)
            except (TypeError, ValueError):
                continue
            if day in rows:
                rows[day].append(form)
        return [
            Day(
                weekday=d,
                name=str(WEEKDAYS[d]),
                close=d in self.closed_days,
                open=any(f["start"].value() and f["end"].value() for f in rows[d]),
                rows=rows[d],
            )
            for d in range(7)
        ]


class BaseExceptionFormSet(_RowsFormSet):
    def clean(self) -> None:
        dates: dict[date, list[forms.Form]] = {}
        for form in self.kept():
            dates.setdefault(form.cleaned_data["date"], []).append(form)
        for day, forms_of_day in dates.items():
            closed = [f for f in forms_of_day if f.cleaned_data["closed"]]
            if closed and len(forms_of_day) > 1:
                for form in forms_of_day[1:]:
                    form.add_error(
                        "date",
                        _("%(date)s is listed twice: closed, and in another row.")
                        % {"date": day.isoformat()},
                    )
            elif not closed:
                _overlaps(
                    [(f, f.cleaned_data["start"], f.cleaned_data["end"]) for f in forms_of_day],
                    _("Overlaps another range of this date."),
                )

    def value(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        for form in self.kept():
            data = form.cleaned_data
            entry: dict[str, Any] = {"date": data["date"].isoformat(), "closed": data["closed"]}
            if not data["closed"]:
                entry.update(start=data["start"], end=data["end"])
            entries.append(entry)
        return sorted(entries, key=lambda e: (e["date"], e.get("start", "")))


WeeklyFormSet = formset_factory(WeeklySlotForm, formset=BaseWeeklyFormSet, extra=0, can_delete=True)
ExceptionFormSet = formset_factory(
    ExceptionForm, formset=BaseExceptionFormSet, extra=0, can_delete=True
)
EMPTY_EXCEPTION_ROWS = 2  # blank rows below the exceptions: the page works without scripts


class HoursForms:
    """The weekly grid, the closed weekdays and the exceptions, parsed together."""

    def __init__(self, data: Any | None, business_hours: dict[str, Any]) -> None:
        weekly = sorted(
            business_hours.get("weekly") or [], key=lambda s: (s["weekday"], s["start"])
        )
        # Each day has one blank row more: a closed day can be opened, an open day get a range.
        weekly_rows = [
            {"weekday": int(s["weekday"]), "start": s["start"], "end": s["end"]} for s in weekly
        ] + [{"weekday": d, "start": "", "end": ""} for d in range(7)]
        weekly_rows.sort(key=lambda r: r["weekday"])
        exception_rows = [
            {
                "date": date.fromisoformat(str(e["date"])),
                "closed": bool(e.get("closed")),
                "start": e.get("start", ""),
                "end": e.get("end", ""),
            }
            for e in sorted(business_hours.get("exceptions") or [], key=lambda e: str(e["date"]))
        ] + [{} for _n in range(EMPTY_EXCEPTION_ROWS)]
        closed: frozenset[int] = frozenset()
        if data is None:
            weekly_set = WeeklyFormSet(prefix="weekly", initial=weekly_rows)
            exception_set = ExceptionFormSet(prefix="exceptions", initial=exception_rows)
        else:
            weekly_set = WeeklyFormSet(data, prefix="weekly")
            exception_set = ExceptionFormSet(data, prefix="exceptions")
            days = data.getlist("closed_weekdays")
            closed = frozenset(int(d) for d in days if str(d).isdigit() and int(d) < 7)
        self.weekly = cast(BaseWeeklyFormSet, weekly_set)
        self.weekly.closed_days = closed
        self.exceptions = cast(BaseExceptionFormSet, exception_set)
        self.errors: list[str] = []

    def is_valid(self) -> bool:
        weekly_ok = self.weekly.is_valid()
        exceptions_ok = self.exceptions.is_valid()
        return weekly_ok and exceptions_ok and not self.errors

    def value(self) -> dict[str, Any]:
        return {"weekly": self.weekly.value(), "exceptions": self.exceptions.value()}


class BusinessHoursPage(ShopPermRequiredMixin, TemplateView):
    """SPEC D2: when the shop is open; outside those hours, with nobody online, the off-hours
    reply answers buyers. Business hours never change routing or queueing (SPEC D)."""

    required_perm = Perm.MANAGE_SETTINGS
    template_name = "web/admin/hours.html"

    def _settings(self) -> ShopSettings:
        return ShopSettings.objects.select_related("shop").get(shop_id=self.account.shop_id)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        settings = self._settings()
        return self.render(settings, HoursForms(None, settings.business_hours))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        settings = self._settings()
        parsed = HoursForms(request.POST, settings.business_hours)
        if parsed.is_valid():
            value = parsed.value()
            # The API's own check (hours.py) as a last word: the rows catch each case first.
            parsed.errors = hours.problems(value)
            if not parsed.errors:
                try:
                    settings_update(actor=self.account, changes={"business_hours": value})
                except InvalidFields as error:
                    parsed.errors = [p for problems in error.errors.values() for p in problems]
                except DomainError as error:
                    parsed.errors = [error.message]
            if not parsed.errors:
                messages.success(request, _("The business hours were saved."))
                return redirect("web:admin-hours")
        return self.render(settings, parsed)

    def render(self, settings: ShopSettings, parsed: HoursForms) -> HttpResponse:
        zone = ZoneInfo(settings.shop.time_zone)
        now = timezone.now()
        schedule = hours.Schedule.parse(settings.business_hours)
        local = now.astimezone(zone)
        open_now = hours.is_open(schedule, zone, now)
        context = self.get_context_data(
            hours_forms=parsed,
            days=parsed.weekly.by_day(),
            weekly=parsed.weekly,
            exceptions=parsed.exceptions,
            has_errors=bool(
                parsed.errors
                or any(parsed.weekly.errors)
                or any(parsed.exceptions.errors)
                or parsed.weekly.non_form_errors()
                or parsed.exceptions.non_form_errors()
            ),
            errors=parsed.errors,
            time_zone=settings.shop.time_zone,
            local_now=_local_text(local),
            open_now=open_now,
            opens_at=None if open_now else _opening_text(hours.next_opening(schedule, zone, now)),
            today_slots=[_slot_text(s) for s in schedule.slots(local.date())],
            offhours_enabled=settings.offhours_enabled,
        )
        return self.render_to_response(context)


def _local_text(local: datetime) -> str:
    return f"{date_format(local.date(), 'DATE_FORMAT')} {WEEKDAYS[local.weekday()]} {local:%H:%M}"


def _opening_text(opening: datetime | None) -> str | None:
    return _local_text(opening) if opening else None


def _slot_text(slot: hours.Slot) -> str:
    start, end = slot
    return f"{start // 60:02d}:{start % 60:02d}–{end // 60:02d}:{end % 60:02d}"


urlpatterns: list[URLPattern] = [
    path("admin/routing/", RoutingSettingsPage.as_view(), name="admin-routing"),
    path("admin/hours/", BusinessHoursPage.as_view(), name="admin-hours"),
]
