"""The automatic replies, silence timeouts, private contacts and intent rules pages
(SPEC D, B8, B5, G1; issue 9).

Each page writes through the service the REST API uses (``settings_update``, the private
contacts' and intent rules' services), with the API's field names, so that what a page saves is
what ``GET /api/v1/settings/`` and the list endpoints show. The previews of the automatic texts
are made by ``apps.automation.texts``, the code that sends them.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import FormView, TemplateView, View

from apps.accounts.permissions import Perm
from apps.automation import texts
from apps.backoffice.shop_settings import MAX_TEXT, MAX_TIMEOUT, TEXT_FIELDS, settings_update
from apps.conversations.contacts import private_contact_add, private_contact_remove
from apps.conversations.intents import (
    MAX_KEYWORD,
    MAX_NAME,
    intent_rule_create,
    intent_rule_delete,
    intent_rule_get,
    intent_rule_update,
    intent_rules_of,
)
from apps.conversations.models import IntentRule, PrivateContact
from apps.core.errors import DomainError, NotFound
from apps.routing.models import Group
from apps.routing.queue import QueueFigures
from apps.shopdata.models import Buyer
from apps.shops.models import ShopSettings
from apps.web.forms import add_domain_error
from apps.web.mixins import ShopPermRequiredMixin

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# The languages a preview is shown in (ShopSettings.language's choices), and the example figures
# of the queueing preview (SPEC C5: position and estimate).
PREVIEW_LANGUAGES = (("zh-hans", "简体中文"), ("en", "English"))
EXAMPLE_QUEUE = QueueFigures(position=3, eta_seconds=240, hidden=False)


# --- Automatic replies (SPEC D1-D6) ----------------------------------------------------------


def _text_field(label: StrOrPromise, help_text: StrOrPromise) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=MAX_TEXT,
        strip=False,  # the service stores what was typed; the sender strips it (texts._own)
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=help_text,
    )


class RepliesForm(forms.Form):
    """The switches and texts of SPEC D; the names are the settings API's fields (API.md)."""

    welcome_enabled = forms.BooleanField(
        label=gettext_lazy("Send a welcome"),
        required=False,
        help_text=gettext_lazy(
            "In the agent's name when a conversation is assigned; the same text at most once per "
            "buyer per day."
        ),
    )
    welcome_text = _text_field(
        gettext_lazy("Welcome text"), gettext_lazy("Empty: the default text below.")
    )
    offhours_enabled = forms.BooleanField(
        label=gettext_lazy("Send the off-hours reply"),
        required=False,
        help_text=gettext_lazy(
            "When a buyer writes outside business hours and no agent is online."
        ),
    )
    offhours_text = _text_field(
        gettext_lazy("Off-hours text"), gettext_lazy("Empty: the default text below.")
    )
    queueing_enabled = forms.BooleanField(
        label=gettext_lazy("Tell queued buyers where they are"),
        required=False,
        help_text=gettext_lazy(
            "When every agent is busy and the buyer waits in the queue. A line with the "
            "buyer's position and the estimated wait always follows your text."
        ),
    )
    queueing_text = _text_field(
        gettext_lazy("Queueing text"), gettext_lazy("Empty: the default text below.")
    )
    paused_enabled = forms.BooleanField(
        label=gettext_lazy("Tell buyers when their agent pauses"),
        required=False,
        help_text=gettext_lazy(
            "When an agent pauses (挂起), each buyer it is serving is told the agent stepped away "
            "for a moment, so that nobody waits without knowing why."
        ),
    )
    paused_text = _text_field(
        gettext_lazy("Pause notice"), gettext_lazy("Empty: the default text below.")
    )
    rating_enabled = forms.BooleanField(
        label=gettext_lazy("Ask for a rating"),
        required=False,
        help_text=gettext_lazy(
            "When an agent ends a conversation the buyer may rate it from 1 to 5 stars, with "
            "an optional comment, once per conversation."
        ),
    )
    buyer_warning_text = _text_field(
        gettext_lazy("Warning to a silent buyer"),
        gettext_lazy(
            "Sent before the conversation closes for the buyer's silence. Empty: the "
            "default text below."
        ),
    )
    buyer_close_text = _text_field(
        gettext_lazy("Closing notice"),
        gettext_lazy(
            "Tells the buyer why the conversation ended and how to come back. {minutes} becomes "
            "the silence timeout in minutes. Empty: the default text below."
        ),
    )
    agent_warning_text = _text_field(
        gettext_lazy("Warning to a silent agent"),
        gettext_lazy(
            "Shown to the agent alone, in the workbench, before the silence action. Empty: the "
            "default text below."
        ),
    )


@dataclass(frozen=True)
class Preview:
    """What one text reads like in one language, and what ``static/js/replies.js`` needs to
    redo it as the owner types: the default (used when the field is empty), the line always
    appended (D3) and the minutes ``{minutes}`` becomes (D5)."""

    language: str
    label: str
    text: str
    default: str
    suffix: str = ""
    minutes: int | None = None


def _with(settings: ShopSettings, language: str, values: dict[str, Any]) -> ShopSettings:
    """An unsaved copy of the settings in ``language`` with the form's texts."""
    shown = copy.copy(settings)
    shown.language = language
    for field, value in values.items():
        setattr(shown, field, value)
    return shown


# The function that sends each text (``apps.automation.texts``), as a preview calls it.
SENDERS: dict[str, Callable[[ShopSettings], str]] = {
    "welcome_text": texts.welcome,
    "offhours_text": texts.offhours,
    "queueing_text": lambda settings: texts.queueing(settings, EXAMPLE_QUEUE),
    "paused_text": texts.paused,
    "buyer_warning_text": texts.buyer_warning,
    "buyer_close_text": texts.buyer_close,
    "agent_warning_text": texts.agent_warning,
}


def default_texts(settings: ShopSettings, language: str) -> dict[str, tuple[str, str]]:
    """Per text field, its default in ``language`` and the line always appended to it (D3's
    position and estimate; empty for the others)."""
    bare = _with(settings, language, dict.fromkeys(TEXT_FIELDS, ""))
    defaults = {}
    for field in TEXT_FIELDS:
        text = SENDERS[field](bare)
        if field == "queueing_text":  # the shop's text, then the figures' line (D3)
            default, sep, line = text.partition("\n")
            defaults[field] = (default, sep + line)
        else:
            defaults[field] = (text, "")
    return defaults


def replies_previews(settings: ShopSettings, values: dict[str, str]) -> dict[str, list[Preview]]:
    """Per text field, its preview in each language, made by the functions that send the texts
    (``apps.automation.texts``), queue figures and the silence timeout filled in."""
    minutes = -(-settings.buyer_silence_seconds // 60)
    previews: dict[str, list[Preview]] = {f: [] for f in (*TEXT_FIELDS, "rating")}
    for language, label in PREVIEW_LANGUAGES:
        own = _with(settings, language, values)
        for field, (default, suffix) in default_texts(settings, language).items():
            mins = minutes if field == "buyer_close_text" else None
            previews[field].append(
                Preview(language, label, SENDERS[field](own), default, suffix, mins)
            )
        rating = texts.rating_request(own)
        previews["rating"].append(Preview(language, label, rating, rating))
    return previews


class RepliesPage(ShopPermRequiredMixin, FormView):
    """SPEC D1-D6: every automatic text with its switch and a preview in both languages."""

    required_perm = Perm.MANAGE_SETTINGS
    template_name = "web/admin/replies.html"
    form_class = RepliesForm

    def get_initial(self) -> dict[str, Any]:
        s = self.account.shop.settings
        return {name: getattr(s, name) for name in RepliesForm.base_fields}

    def get_form(self, form_class: Any = None) -> RepliesForm:
        form = super().get_form(form_class)
        settings = self.account.shop.settings
        for name, (default, _suffix) in default_texts(settings, settings.language).items():
            form.fields[name].widget.attrs.update(
                {"placeholder": default, "data-preview-source": name}
            )
        return form

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form = context["form"]
        settings = self.account.shop.settings
        values = {
            name: (form.data.get(name, "") if form.is_bound else getattr(settings, name))[:MAX_TEXT]
            for name in TEXT_FIELDS
        }
        language = dict(ShopSettings._meta.get_field("language").choices or [])
        context.update(
            previews=replies_previews(settings, values),
            shop_language=language.get(settings.language, settings.language),
            silence=texts_duration(settings.buyer_silence_seconds),
        )
        return context

    def form_valid(self, form: RepliesForm) -> HttpResponse:
        try:
            settings_update(actor=self.account, changes=dict(form.cleaned_data))
        except DomainError as error:
            add_domain_error(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("The automatic replies were saved."))
        return redirect("web:admin-replies")


def texts_duration(seconds: int) -> str:
    """``5 minutes`` in the page's language, or "off" for 0 (SPEC D5, D6)."""
    return texts.duration(seconds) if seconds else _("off")


# --- Silence timeouts (SPEC D5, D6) ----------------------------------------------------------

_DURATION = re.compile(
    r"^\s*(?:(?P<m>\d+)\s*(?:m|min|mins|minutes?|分钟?)\s*)?"
    r"(?:(?P<s>\d+)\s*(?:s|sec|secs|seconds?|秒)?\s*)?$",
    re.IGNORECASE,
)


class DurationField(forms.Field):
    """Whole seconds, typed as ``300``, ``5:00``, ``5m``, ``4m30s`` or ``5 分钟``; 0 = off."""

    widget = forms.TextInput

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.widget.attrs.update({"autocomplete": "off", "size": 10, "maxlength": 20})

    def to_python(self, value: Any) -> int | None:
        raw = str(value or "").strip()[:20]
        if raw == "":
            return None
        if ":" in raw or "：" in raw:
            minutes, _sep, seconds = raw.replace("：", ":").partition(":")
            if minutes.strip().isdigit() and seconds.strip().isdigit() and int(seconds) < 60:
                return int(minutes) * 60 + int(seconds)
        else:
            match = _DURATION.match(raw)
            if match and (match["m"] or match["s"]):
                return int(match["m"] or 0) * 60 + int(match["s"] or 0)
        raise forms.ValidationError(
            _("Enter seconds (300) or minutes and seconds (5:00, 5m, 4m30s)."), code="invalid"
        )

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value is not None and value > MAX_TIMEOUT:
            raise forms.ValidationError(
                _("At most a week (%(n)d seconds).") % {"n": MAX_TIMEOUT}, code="max_value"
            )

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, int):
            return f"{value // 60}:{value % 60:02d}"
        return value


class TimeoutsForm(forms.Form):
    """SPEC D5, D6; the names are the settings API's fields (API.md), in seconds there."""

    buyer_silence_seconds = DurationField(
        label=gettext_lazy("Buyer silence timeout"),
        help_text=gettext_lazy(
            "After the agent's last message, the conversation ends when the buyer has not "
            "answered for this long. 0:00 = never."
        ),
    )
    buyer_warning_seconds = DurationField(
        label=gettext_lazy("Warn the buyer before the close"),
        help_text=gettext_lazy(
            "How long before the close the buyer is warned; less than the timeout. 0:00 = no "
            "warning."
        ),
    )
    agent_silence_seconds = DurationField(
        label=gettext_lazy("Agent silence timeout"),
        help_text=gettext_lazy(
            "After a buyer's message, the silence action happens when the agent has not "
            "answered for this long. 0:00 = never."
        ),
    )
    agent_warning_seconds = DurationField(
        label=gettext_lazy("Warn the agent before the action"),
        help_text=gettext_lazy(
            "How long before the action the agent is warned in the workbench; less than the "
            "timeout. 0:00 = no warning."
        ),
    )
    agent_silence_action = forms.ChoiceField(
        label=gettext_lazy("When an agent stays silent"),
        widget=forms.RadioSelect,
        choices=[
            ("close", gettext_lazy("Close the conversation (the buyer is told)")),
            (
                "reassign",
                gettext_lazy(
                    "Hand it to another available agent, ahead of the queue (kept as an "
                    "offline message when nobody can take it)"
                ),
            ),
        ],
    )
    # Amended decision: ending asks for confirmation unless the shop turns that off.
    confirm_end = forms.BooleanField(
        required=False,
        label=gettext_lazy("Ask agents to confirm before a conversation ends"),
        help_text=gettext_lazy(
            "When off, the End button and Esc in the workbench end the conversation at once."
        ),
    )


def timeouts_summary(settings: ShopSettings) -> list[str]:
    """The rules in plain words, one line each for the buyer (D5) and the agent (D6)."""

    def d(seconds: int) -> str:
        if seconds < 60 or seconds % 60 == 0:
            return texts.duration(seconds)
        return _("%(m)d min %(s)d s") % {"m": seconds // 60, "s": seconds % 60}

    lines = []
    buyer, buyer_warn = settings.buyer_silence_seconds, settings.buyer_warning_seconds
    if not buyer:
        lines.append(_("A silent buyer's conversation is never closed for the silence."))
    elif buyer_warn:
        lines.append(
            _(
                "A buyer silent for %(timeout)s is warned at %(warning)s and the conversation "
                "closes at %(timeout)s."
            )
            % {"timeout": d(buyer), "warning": d(buyer - buyer_warn)}
        )
    else:
        lines.append(
            _("A buyer silent for %(timeout)s is not warned; the conversation closes then.")
            % {"timeout": d(buyer)}
        )
    agent, agent_warn = settings.agent_silence_seconds, settings.agent_warning_seconds
    if settings.agent_silence_action == "reassign":
        action = _("the conversation goes to another agent")
    else:
        action = _("the conversation closes")
    if not agent:
        lines.append(_("An agent who does not answer is never warned nor replaced."))
    elif agent_warn:
        lines.append(
            _(
                "An agent who has not answered a buyer for %(warning)s is warned, and at "
                "%(timeout)s %(action)s."
            )
            % {"timeout": d(agent), "warning": d(agent - agent_warn), "action": action}
        )
    else:
        lines.append(
            _(
                "An agent who has not answered a buyer for %(timeout)s is not warned; then "
                "%(action)s."
            )
            % {"timeout": d(agent), "action": action}
        )
    return lines


class TimeoutsPage(ShopPermRequiredMixin, FormView):
    """SPEC D5, D6: the silence timeouts, their warnings and the agent-silence action."""

    required_perm = Perm.MANAGE_SETTINGS
    template_name = "web/admin/timeouts.html"
    form_class = TimeoutsForm

    def get_initial(self) -> dict[str, Any]:
        s = self.account.shop.settings
        return {name: getattr(s, name) for name in TimeoutsForm.base_fields}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["summary"] = timeouts_summary(self.account.shop.settings)
        return context

    def form_valid(self, form: TimeoutsForm) -> HttpResponse:
        try:
            settings_update(actor=self.account, changes=dict(form.cleaned_data))
        except DomainError as error:
            add_domain_error(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("The timeouts were saved."))
        return redirect("web:admin-timeouts")


# --- Private contacts (SPEC B8) --------------------------------------------------------------


class PrivateContactForm(forms.Form):
    buyer = forms.CharField(
        label=gettext_lazy("Buyer's external id"),
        max_length=64,
        help_text=gettext_lazy(
            "The id your shop's systems know the buyer by, e.g. the member number your pages "
            "sign for the widget."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class PrivateContactsPage(ShopPermRequiredMixin, FormView):
    """B8: the list, an add form and a remove button per buyer. ``manage_routing`` like the
    API (SPEC A4: who a buyer is routed to)."""

    required_perm = Perm.MANAGE_ROUTING
    template_name = "web/admin/private_contacts.html"
    form_class = PrivateContactForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["contacts"] = (
            PrivateContact.objects.filter(shop_id=self.account.shop_id)
            .select_related("buyer")
            .order_by("-created_at", "-id")
        )
        context["main_account"] = self.account.shop.accounts.filter(kind="main").first()
        return context

    def form_valid(self, form: PrivateContactForm) -> HttpResponse:
        external_id = form.cleaned_data["buyer"].strip()
        known = Buyer.objects.filter(shop_id=self.account.shop_id, external_id=external_id).exists()
        try:
            contact = private_contact_add(actor=self.account, buyer_external_id=external_id)
        except DomainError as error:
            add_domain_error(form, error)
            return self.form_invalid(form)
        name = contact.buyer.name or contact.buyer.external_id
        if known:
            messages.success(
                self.request, _("%(buyer)s is a private contact now.") % {"buyer": name}
            )
        else:
            messages.success(
                self.request,
                _(
                    "%(buyer)s is a private contact now. Your shop has not sent this buyer yet: "
                    "check the id; the buyer is recognised on their first chat."
                )
                % {"buyer": name},
            )
        return redirect("web:admin-private-contacts")


class PrivateContactRemovePage(ShopPermRequiredMixin, View):
    """POST ``buyer``: off the list (the buyer stays). Not on the shop's list: 404."""

    required_perm = Perm.MANAGE_ROUTING
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        external_id = request.POST.get("buyer", "")
        try:
            private_contact_remove(actor=self.account, buyer_external_id=external_id)
        except NotFound:
            raise Http404(_("No such private contact.")) from None
        messages.success(
            request, _("%(buyer)s is no longer a private contact.") % {"buyer": external_id}
        )
        return redirect("web:admin-private-contacts")


# --- Intent rules (SPEC B4, B5) --------------------------------------------------------------

_KEYWORD_SPLIT = re.compile(r"[,，、\n]+")


class IntentRuleForm(forms.Form):
    """API.md ``name, keywords[]``: keywords one per line or separated by commas."""

    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=MAX_NAME,
        help_text=gettext_lazy(
            "The label groups scope by, e.g. 退款 or logistics. Groups name intents exactly so."
        ),
    )
    keywords = forms.CharField(
        label=gettext_lazy("Keywords"),
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=gettext_lazy(
            "One per line or separated by commas. A buyer's message containing one of them "
            "gets this intent."
        ),
    )

    def clean_keywords(self) -> list[str]:
        raw = self.cleaned_data.get("keywords") or ""
        keywords = [k.strip() for k in _KEYWORD_SPLIT.split(raw) if k.strip()]
        too_long = [k for k in keywords if len(k) > MAX_KEYWORD]
        if not keywords:
            raise forms.ValidationError(_("Give at least one keyword."))
        if too_long:
            raise forms.ValidationError(
                _("A keyword has at most %(n)d characters: %(keywords)s")
                % {"n": MAX_KEYWORD, "keywords": ", ".join(too_long)}
            )
        return keywords


def _groups_by_intent(shop_id: int) -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for group in Group.objects.filter(shop_id=shop_id).order_by("name"):
        for intent in group.scope_intents or []:
            used.setdefault(intent, []).append(group.name)
    return used


class IntentListPage(ShopPermRequiredMixin, TemplateView):
    """The intents with their keywords and the groups scoped by each."""

    required_perm = Perm.MANAGE_ROUTING
    template_name = "web/admin/intents.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        used = _groups_by_intent(self.account.shop_id)
        rules = list(intent_rules_of(actor=self.account))
        context["rows"] = [{"rule": r, "groups": used.get(r.name, [])} for r in rules]
        return context


class IntentEditPage(ShopPermRequiredMixin, FormView):
    """``pk`` absent: a new intent."""

    required_perm = Perm.MANAGE_ROUTING
    template_name = "web/admin/intent_edit.html"
    form_class = IntentRuleForm
    rule: IntentRule | None = None

    def check_access(self, **kwargs: Any) -> None:
        super().check_access(**kwargs)
        if "pk" in kwargs:
            try:
                self.rule = intent_rule_get(actor=self.account, rule_id=kwargs["pk"])
            except NotFound:
                raise Http404(_("No such intent.")) from None

    def get_initial(self) -> dict[str, Any]:
        if self.rule is None:
            return {}
        return {"name": self.rule.name, "keywords": "\n".join(self.rule.keywords)}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        groups = (
            _groups_by_intent(self.account.shop_id).get(self.rule.name, []) if self.rule else []
        )
        context.update(rule=self.rule, groups=groups)
        return context

    def form_valid(self, form: IntentRuleForm) -> HttpResponse:
        data = form.cleaned_data
        try:
            if self.rule is None:
                intent_rule_create(actor=self.account, name=data["name"], keywords=data["keywords"])
            else:
                intent_rule_update(
                    actor=self.account, rule=self.rule, name=data["name"], keywords=data["keywords"]
                )
        except DomainError as error:
            add_domain_error(form, error)
            return self.form_invalid(form)
        messages.success(
            self.request, _("The intent %(name)s was saved.") % {"name": data["name"].strip()}
        )
        return redirect("web:admin-intents")


class IntentDeletePage(IntentEditPage):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        assert self.rule is not None
        name = self.rule.name
        intent_rule_delete(actor=self.account, rule=self.rule)
        messages.success(request, _("The intent %(name)s was deleted.") % {"name": name})
        return redirect("web:admin-intents")


urlpatterns: list[URLPattern] = [
    path("admin/replies/", RepliesPage.as_view(), name="admin-replies"),
    path("admin/timeouts/", TimeoutsPage.as_view(), name="admin-timeouts"),
    path(
        "admin/private-contacts/",
        PrivateContactsPage.as_view(),
        name="admin-private-contacts",
    ),
    path(
        "admin/private-contacts/remove/",
        PrivateContactRemovePage.as_view(),
        name="admin-private-contact-remove",
    ),
    path("admin/intents/", IntentListPage.as_view(), name="admin-intents"),
    path("admin/intents/new/", IntentEditPage.as_view(), name="admin-intent-create"),
    path("admin/intents/<int:pk>/", IntentEditPage.as_view(), name="admin-intent-edit"),
    path(
        "admin/intents/<int:pk>/delete/",
        IntentDeletePage.as_view(),
        name="admin-intent-delete",
    ),
]
