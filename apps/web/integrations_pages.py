"""The integrations page (SPEC H2, H4; issue 12): the shop's API keys and webhooks, and each
webhook's delivery log; and the audit log page (SPEC I5), the main account's alone.

They write through the services the REST API uses (``apps.integrations.keys`` and
``webhooks``), so a key or a webhook made here is the one ``GET /api/v1/api-keys/`` and
``/webhooks/`` list. A new key and a new webhook's secret appear once, in the answer to the form
that made them (never stored in clear, never put in the session), with a copy button
(``static/js/integrations.js``)."""

from __future__ import annotations

import json
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView, View

from apps.accounts.permissions import Perm
from apps.audit.models import AuditAction, AuditEntry, AuditTarget
from apps.audit.selectors import AuditFilters, audit_entries
from apps.core.errors import DomainError, NotFound
from apps.core.types import UNSET
from apps.integrations import keys, netguard, subscriptions, webhooks
from apps.integrations.models import Webhook
from apps.web.forms import add_domain_error
from apps.web.mixins import ShopPermRequiredMixin, StaffPageMixin

# --- Forms -----------------------------------------------------------------------------------


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Key name"),
        max_length=keys.NAME_MAX,
        help_text=gettext_lazy("What the key is for, e.g. ERP or CRM."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class WebhookForm(forms.Form):
    url = forms.CharField(
        label=gettext_lazy("Endpoint URL"),
        max_length=netguard.URL_MAX,
        help_text=gettext_lazy(
            "http or https, on a public address: your system's address that receives the events."
        ),
        widget=forms.URLInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    events = forms.MultipleChoiceField(
        label=gettext_lazy("Events"),
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("The events sent to this endpoint."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["events"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(t, t) for t in subscriptions.declared()]


# --- The integrations page -------------------------------------------------------------------


class IntegrationsPage(ShopPermRequiredMixin, TemplateView):
    """H2, H4: the keys (make one, see it once, revoke) and the webhooks (make one, see its
    secret once, switch it back on, delete). The main account or ``manage_settings``, as the
    API rules."""

    required_perm = Perm.MANAGE_SETTINGS
    template_name = "web/admin/integrations.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        shop_id = self.account.shop_id
        context.setdefault("key_form", ApiKeyForm())
        context.setdefault("webhook_form", WebhookForm())
        context["api_keys"] = keys.api_keys_of(shop_id=shop_id)
        context["webhooks"] = webhooks.webhooks_of(shop_id=shop_id)
        context["keys_max"] = keys.KEYS_MAX
        return context

    def _render(self, **context: Any) -> HttpResponse:
        response = self.render_to_response(self.get_context_data(**context))
        response["Cache-Control"] = "no-store"  # it may show a key or a secret, once
        return response

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if "url" in request.POST:
            return self._webhook(request)
        return self._key(request)

    def _key(self, request: HttpRequest) -> HttpResponse:
        form = ApiKeyForm(request.POST)
        if not form.is_valid():
            return self._render(key_form=form)
        try:
            made = keys.api_key_create(actor=self.account, name=form.cleaned_data["name"])
        except DomainError as error:
            add_domain_error(form, error)
            return self._render(key_form=form)
        return self._render(new_key=made)

    def _webhook(self, request: HttpRequest) -> HttpResponse:
        form = WebhookForm(request.POST)
        if not form.is_valid():
            return self._render(webhook_form=form)
        try:
            made = webhooks.webhook_create(
                shop_id=self.account.shop_id,
                actor=self.account,
                url=form.cleaned_data["url"].strip(),
                events=form.cleaned_data["events"],
            )
        except DomainError as error:
            add_domain_error(form, error)
            return self._render(webhook_form=form)
        return self._render(new_webhook=made)


class ApiKeyRevokePage(ShopPermRequiredMixin, View):
    """POST: the key stops working at once."""

    required_perm = Perm.MANAGE_SETTINGS
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, pk: int, **kwargs: Any) -> HttpResponse:
        try:
            keys.api_key_revoke(actor=self.account, key_id=pk)
        except NotFound:
            raise Http404(_("No such key.")) from None
        messages.success(request, _("The key was revoked: requests that present it now fail."))
        return redirect("web:admin-integrations")


class WebhookActionPage(ShopPermRequiredMixin, View):
    """POST ``action``: ``enable`` (after the delivery switched it off), ``disable`` or
    ``delete``."""

    required_perm = Perm.MANAGE_SETTINGS
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, pk: int, **kwargs: Any) -> HttpResponse:
        action = request.POST.get("action", "")
        shop_id = self.account.shop_id
        try:
            if action == "delete":
                webhooks.webhook_delete(shop_id=shop_id, actor=self.account, webhook_id=pk)
                messages.success(request, _("The webhook was deleted."))
            elif action in ("enable", "disable"):
                webhooks.webhook_update(
                    shop_id=shop_id,
                    actor=self.account,
                    webhook_id=pk,
                    is_active=action == "enable",
                    url=UNSET,
                    events=UNSET,
                )
                if action == "enable":
                    messages.success(request, _("The webhook is on again."))
                else:
                    messages.success(request, _("The webhook is off."))
            else:
                raise Http404(_("No such action."))
        except NotFound:
            raise Http404(_("No such webhook.")) from None
        return redirect("web:admin-integrations")


class WebhookLogPage(ShopPermRequiredMixin, TemplateView):
    """The webhook's delivery log: every attempt, newest first, 50 a page."""

    required_perm = Perm.MANAGE_SETTINGS
    template_name = "web/admin/webhook_log.html"
    webhook: Webhook

    def check_access(self, **kwargs: Any) -> None:
        super().check_access(**kwargs)
        try:
            self.webhook = webhooks.webhook_get(
                shop_id=self.account.shop_id, webhook_id=kwargs["pk"]
            )
        except NotFound:
            raise Http404(_("No such webhook.")) from None

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        pages = Paginator(webhooks.attempts_of(webhook=self.webhook), 50)
        context["webhook"] = self.webhook
        context["page"] = pages.get_page(self.request.GET.get("page"))
        context["pending"] = webhooks.pending_count(webhook=self.webhook)
        return context


# --- The audit log (SPEC I5) -----------------------------------------------------------------


class MainAccountPageMixin(StaffPageMixin):
    """The shop's main account alone (SPEC I5: the audit log is the owner's)."""

    def check_access(self, **kwargs: Any) -> None:
        super().check_access(**kwargs)
        if not self.account.is_main:
            raise PermissionDenied(_("Only the shop's main account can open this page."))


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label=gettext_lazy("What"), required=False)
    since = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["action"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [
            ("", _("Everything")),
            *[(t.value, t.label) for t in AuditTarget],
            *[(a.value, a.label) for a in AuditAction],
        ]


@dataclass(frozen=True)
class ChangeRow:
    field: str
    before: str
    after: str


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value if len(value) <= 200 else value[:199] + "…"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 200 else text[:199] + "…"


def change_rows(entry: AuditEntry) -> list[ChangeRow]:
    rows = []
    for field, change in sorted((entry.changes or {}).items()):
        if isinstance(change, dict):
            rows.append(ChangeRow(field, _text(change.get("before")), _text(change.get("after"))))
    return rows


class AuditLogPage(MainAccountPageMixin, TemplateView):
    template_name = "web/admin/audit.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form = AuditFilterForm(self.request.GET or None)
        filters = AuditFilters()
        if form.is_bound and form.is_valid():
            zone = self.account.shop.time_zone
            filters = AuditFilters(
                action=form.cleaned_data["action"] or None,
                since=_day_start(form.cleaned_data["since"], zone),
                until=_day_start(form.cleaned_data["until"], zone, next_day=True),
            )
        rows = audit_entries(shop_id=self.account.shop_id, filters=filters)
        page = Paginator(rows, 50).get_page(self.request.GET.get("page"))
        context["form"] = form
        context["page"] = page
        context["entries"] = [(entry, change_rows(entry)) for entry in page]
        query = self.request.GET.copy()
        query.pop("page", None)
        context["query"] = query.urlencode()
        return context


def _day_start(day: date | None, zone: str, *, next_day: bool = False) -> datetime | None:
    """The start of ``day`` (or of the day after it) in the shop's time zone."""
    if day is None:
        return None
    start = datetime.combine(day, time.min, tzinfo=zoneinfo.ZoneInfo(zone))
    return start + timedelta(days=1) if next_day else start


urlpatterns: list[URLPattern] = [
    path("admin/integrations/", IntegrationsPage.as_view(), name="admin-integrations"),
    path(
        "admin/integrations/keys/<int:pk>/revoke/",
        ApiKeyRevokePage.as_view(),
        name="admin-integration-key-revoke",
    ),
    path(
        "admin/integrations/webhooks/<int:pk>/",
        WebhookLogPage.as_view(),
        name="admin-integration-webhook",
    ),
    path(
        "admin/integrations/webhooks/<int:pk>/action/",
        WebhookActionPage.as_view(),
        name="admin-integration-webhook-action",
    ),
    path("admin/audit/", AuditLogPage.as_view(), name="admin-audit"),
]
