"""The safety page (SPEC I6; docs/safety.md): the shop's sensitive words, its blocked buyers and
how long closed conversations are kept. The main account or ``manage_settings``, as the API
rules; every write goes through the services the REST API calls (``apps.safety.services``,
``settings_update``), so what is added here is what ``GET /api/v1/sensitive-words/`` and
``/blocked-buyers/`` list. Three forms on one page, told apart by their ``form`` field; their
field names are the API's."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView, View

from apps.accounts.permissions import Perm
from apps.backoffice.shop_settings import settings_update
from apps.core.errors import DomainError, NotFound
from apps.safety import selectors, services
from apps.safety.models import BLOCK_REASON_MAX, EXTERNAL_ID_MAX, WORD_MAX, WordAction
from apps.shops.models import RETENTION_DAYS_MAX, ShopSettings
from apps.web.forms import add_domain_error
from apps.web.mixins import ShopPermRequiredMixin


class SafetySettingsForm(forms.Form):
    retention_days = forms.IntegerField(
        label=gettext_lazy("Keep closed conversations for (days)"),
        min_value=0,
        max_value=RETENTION_DAYS_MAX,
        help_text=gettext_lazy(
            "After this many days a closed conversation is deleted with its messages, notes "
            "and images. 0 keeps them for ever."
        ),
    )
    sensitive_words_agents = forms.BooleanField(
        label=gettext_lazy("Apply the sensitive words to agents' messages too"),
        required=False,
        help_text=gettext_lazy("Buyers' messages are always checked."),
    )


class SensitiveWordForm(forms.Form):
    word = forms.CharField(
        label=gettext_lazy("Word"),
        max_length=WORD_MAX,
        help_text=gettext_lazy("Found anywhere in a message, capital letters or not."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    action = forms.ChoiceField(
        label=gettext_lazy("When a message contains it"),
        choices=WordAction.choices,
        initial=WordAction.MASK.value,
    )


class BuyerBlockForm(forms.Form):
    buyer = forms.CharField(
        label=gettext_lazy("Buyer's external id"),
        max_length=EXTERNAL_ID_MAX,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=BLOCK_REASON_MAX,
        required=False,
        help_text=gettext_lazy("Shown to your staff in the buyer panel, never to the buyer."),
    )


FORMS = {"settings": SafetySettingsForm, "word": SensitiveWordForm, "block": BuyerBlockForm}


class SafetyPage(ShopPermRequiredMixin, TemplateView):
    """I6: the retention period and who the words apply to, the words, the blocked buyers."""

    required_perm = Perm.MANAGE_SETTINGS
    template_name = "web/admin/safety.html"

    def _settings(self) -> ShopSettings:
        return ShopSettings.objects.get(shop_id=self.account.shop_id)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        shop_id = self.account.shop_id
        settings = self._settings()
        context.setdefault(
            "settings_form",
            SafetySettingsForm(
                initial={
                    "retention_days": settings.retention_days,
                    "sensitive_words_agents": settings.sensitive_words_agents,
                }
            ),
        )
        context.setdefault("word_form", SensitiveWordForm())
        context.setdefault("block_form", BuyerBlockForm())
        context["words"] = selectors.sensitive_words_of(shop_id=shop_id)
        context["blocks"] = selectors.buyer_blocks_of(shop_id=shop_id)
        context["words_max"] = services.WORDS_MAX
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        kind = request.POST.get("form", "")
        if kind not in FORMS:
            raise Http404(_("No such form."))
        form = FORMS[kind](request.POST)
        if form.is_valid():
            try:
                with transaction.atomic():
                    done = getattr(self, f"_save_{kind}")(form.cleaned_data)
            except DomainError as error:
                add_domain_error(form, error)
            else:
                messages.success(request, done)
                return redirect("web:admin-safety")
        return self.render_to_response(self.get_context_data(**{f"{kind}_form": form}))

    def _save_settings(self, data: dict[str, Any]) -> str:
        settings_update(actor=self.account, changes=data)
        return _("The safety settings were saved.")

    def _save_word(self, data: dict[str, Any]) -> str:
        word = services.sensitive_word_add(actor=self.account, **data)
        return _("“%(word)s” was added.") % {"word": word.word}

    def _save_block(self, data: dict[str, Any]) -> str:
        block, _created = services.buyer_block(
            actor=self.account, external_id=data["buyer"], reason=data["reason"]
        )
        return _("%(buyer)s is blocked: it can no longer open the chat nor write.") % {
            "buyer": block.external_id
        }


class SensitiveWordChangePage(ShopPermRequiredMixin, View):
    """POST ``op``: ``delete`` the word, or ``switch`` its action (mask <-> block)."""

    required_perm = Perm.MANAGE_SETTINGS
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, pk: int, **kwargs: Any) -> HttpResponse:
        op = request.POST.get("op", "")
        try:
            word = selectors.sensitive_word_get(shop_id=self.account.shop_id, word_id=pk)
            if op == "delete":
                services.sensitive_word_delete(actor=self.account, word_id=pk)
                messages.success(request, _("“%(word)s” was removed.") % {"word": word.word})
            elif op == "switch":
                other = WordAction.BLOCK if word.action == WordAction.MASK else WordAction.MASK
                services.sensitive_word_update(actor=self.account, word_id=pk, action=other)
                messages.success(request, _("“%(word)s” was changed.") % {"word": word.word})
            else:
                raise Http404(_("No such change."))
        except NotFound:
            raise Http404(_("No such sensitive word.")) from None
        return redirect("web:admin-safety")


class BuyerUnblockPage(ShopPermRequiredMixin, View):
    """POST ``buyer``: the buyer may open the chat and write again. Not blocked: 404."""

    required_perm = Perm.MANAGE_SETTINGS
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        external_id = request.POST.get("buyer", "")
        try:
            services.buyer_unblock(actor=self.account, external_id=external_id)
        except NotFound:
            raise Http404(_("This buyer is not blocked.")) from None
        messages.success(request, _("%(buyer)s is unblocked.") % {"buyer": external_id})
        return redirect("web:admin-safety")


urlpatterns: list[URLPattern] = [
    path("admin/safety/", SafetyPage.as_view(), name="admin-safety"),
    path(
        "admin/safety/words/<int:pk>/",
        SensitiveWordChangePage.as_view(),
        name="admin-safety-word",
    ),
    path("admin/safety/unblock/", BuyerUnblockPage.as_view(), name="admin-safety-unblock"),
]
