"""History (SPEC E6): a staff member finds past and present conversations and reads them.

Accounts with ``view_all_history`` (and the main account) see every conversation of the shop and
search a buyer across all agents; other accounts see the conversations they took part in
(``conversations_visible_to``, the same rule as the API's list). The conversation page is read
only: the chat itself happens on the workbench."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView

from apps.accounts.models import Account
from apps.accounts.permissions import Perm, has_perm
from apps.conversations.models import Conversation, State
from apps.conversations.notes import internal_notes
from apps.conversations.payloads import message_payload
from apps.conversations.privacy import message_view
from apps.conversations.selectors import conversation_get, conversations_visible_to
from apps.core.errors import NotFound
from apps.web.mixins import StaffPageMixin

PAGE_SIZE = 25


class HistorySearchForm(forms.Form):
    """The list's filters; every one optional, all checked at once (a bad date is said beside
    its field, the others still apply)."""

    q = forms.CharField(
        label=gettext_lazy("Buyer"),
        required=False,
        max_length=100,
        help_text=gettext_lazy("The buyer's id in the shop, or part of the name."),
    )
    agent = forms.TypedChoiceField(
        label=gettext_lazy("Agent"), required=False, coerce=int, empty_value=None
    )
    state = forms.ChoiceField(label=gettext_lazy("State"), required=False)
    date_from = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, agents: list[Account], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        agent_field = self.fields["agent"]
        state_field = self.fields["state"]
        assert isinstance(agent_field, forms.ChoiceField)
        assert isinstance(state_field, forms.ChoiceField)
        agent_field.choices = [("", _("All agents"))] + [(a.pk, a.label) for a in agents]
        state_field.choices = [("", _("All states")), *State.choices]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", _("The end date is before the start date."))
        return data


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def search(
    conversations: QuerySet[Conversation], data: dict[str, Any], zone: ZoneInfo
) -> QuerySet[Conversation]:
    """``conversations`` filtered by the form's valid values; dates are the shop's days."""
    q = (data.get("q") or "").strip()
    if q:
        conversations = conversations.filter(
            Q(buyer__external_id__icontains=q) | Q(buyer__name__icontains=q)
        )
    if data.get("agent"):
        conversations = conversations.filter(agent_id=data["agent"])
    if data.get("state"):
        conversations = conversations.filter(state=data["state"])
    if data.get("date_from"):
        conversations = conversations.filter(created_at__gte=_day_start(data["date_from"], zone))
    if data.get("date_to"):
        end = _day_start(data["date_to"] + timedelta(days=1), zone)
        conversations = conversations.filter(created_at__lt=end)
    return conversations


class HistoryPage(StaffPageMixin, TemplateView):
    template_name = "web/history/list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        sees_all = has_perm(self.account, Perm.VIEW_ALL_HISTORY)
        agents = (
            list(Account.objects.filter(shop_id=self.account.shop_id).order_by("kind", "pk"))
            if sees_all
            else []
        )
        form = HistorySearchForm(self.request.GET or None, agents=agents)
        if not sees_all:
            del form.fields["agent"]
        zone = ZoneInfo(self.account.shop.time_zone)
        rows = conversations_visible_to(self.account).select_related("agent", "group")
        if form.is_bound:
            form.is_valid()  # the fields that are valid still filter (``cleaned_data``)
            rows = search(rows, getattr(form, "cleaned_data", {}), zone)
        rows = rows.annotate(message_count=Count("messages", distinct=True)).order_by(
            "-created_at", "-id"
        )
        page = Paginator(rows, PAGE_SIZE).get_page(self.request.GET.get("page"))
        query = self.request.GET.copy()
        query.pop("page", None)
        context.update(
            form=form,
            page=page,
            sees_all=sees_all,
            zone=zone,
            query=query.urlencode(),
            filtered=any(v for k, v in self.request.GET.items() if k != "page"),
        )
        return context


class HistoryConversationPage(StaffPageMixin, TemplateView):
    """One conversation, read only: its facts, every message as the agent saw it, the internal
    notes (staff only: this page is)."""

    template_name = "web/history/conversation.html"

    def check_access(self, **kwargs: Any) -> None:
        super().check_access(**kwargs)
        try:
            self.conversation = conversation_get(account=self.account, conversation_id=kwargs["pk"])
        except NotFound:
            raise Http404(_("No such conversation.")) from None

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        conv = self.conversation
        shown = message_view(self.account)  # SPEC I6: masked without view_buyer_info
        messages: list[dict[str, Any]] = [
            dict(shown(message_payload(m)))
            for m in conv.messages.filter(shop_id=conv.shop_id)
            .select_related("attachment")
            .order_by("seq")
        ]
        agents = {
            a.pk: a.label
            for a in Account.objects.filter(
                shop_id=conv.shop_id, pk__in={m["agent"] for m in messages if m["agent"]}
            )
        }
        for m in messages:
            m["agent_label"] = agents.get(m["agent"], "") if m["agent"] else ""
        notes = internal_notes(conv)
        context.update(
            conv=conv,
            messages=messages,
            notes=list(notes),
            zone=ZoneInfo(self.account.shop.time_zone),
            agent=conv.agent if conv.agent_id else None,
        )
        return context


urlpatterns = [
    path("history/", HistoryPage.as_view(), name="history"),
    path("history/<int:pk>/", HistoryConversationPage.as_view(), name="history-conversation"),
]
