"""The routing groups pages (SPEC B2-B4, C1, G1; issue 9): the shop's groups and its mode, one
form for a group's name, default max, reception scope and members, and the deletion.

The page writes through the services of ``/api/v1/groups/`` and ``PATCH /api/v1/accounts/{id}/``
(``apps.backoffice.groups`` and ``services.account_update``), all in one transaction; the
fields carry the API's names (``name``, ``max_concurrent``, ``segments``, ``products``,
``intents``, ``order_statuses``, ``members``; each member's ``weight`` and ``max_concurrent``
as ``weight_<id>`` and ``max_concurrent_<id>``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import FormView, TemplateView

from apps.accounts.models import AccountKind
from apps.accounts.permissions import Perm
from apps.backoffice import services as account_services
from apps.backoffice.api.groups.serializers import ORDER_STATUSES
from apps.backoffice.groups import (
    MAX_NAME,
    GroupScope,
    group_create,
    group_delete,
    group_get,
    group_update,
)
from apps.conversations.models import Conversation, IntentRule, State
from apps.core.errors import DomainError, NotFound
from apps.core.types import UNSET
from apps.routing.engine import CATEGORY_PREFIX
from apps.routing.models import AgentState, Group
from apps.shopdata.models import Buyer, OrderStatus, Product
from apps.web.forms import add_domain_error
from apps.web.mixins import ShopPermRequiredMixin


def order_status_labels() -> dict[str, str]:
    """B4's order statuses with readable names; ``none`` is a buyer without any order."""
    labels = {value: str(label) for value, label in OrderStatus.choices}
    return {s: labels.get(s, _("No order yet")) for s in ORDER_STATUSES}


@dataclass(frozen=True)
class ScopeChoices:
    """What a scope may hold, from the shop's own data (B4), as (value, label) pairs."""

    segments: list[tuple[str, str]]
    products: list[tuple[str, str]]
    intents: list[tuple[str, str]]
    order_statuses: list[tuple[str, str]]


def _with_kept(choices: list[tuple[str, str]], kept: Iterable[str]) -> list[tuple[str, str]]:
    """Values already in a scope stay choosable even when the shop's data no longer has them,
    so saving a group never drops a value silently."""
    known = {value for value, _label in choices}
    extra = sorted(set(kept) - known)
    gone = _("(not in the shop's data now)")
    return choices + [(value, f"{value} {gone}") for value in extra]


def scope_choices(shop_id: int, group: Group | None = None) -> ScopeChoices:
    """The caller's shop's segments, products and categories, intents, and the order statuses."""
    segments = sorted(
        {
            s
            for row in Buyer.objects.filter(shop_id=shop_id).values_list("segments", flat=True)
            for s in (row or [])
            if isinstance(s, str) and s.strip()
        }
    )
    products = list(
        Product.objects.filter(shop_id=shop_id)
        .order_by("external_id")
        .values_list("external_id", "name", "category")
    )
    categories = sorted({category for _e, _n, category in products if category})
    product_choices = [
        (f"{CATEGORY_PREFIX}{c}", _("Category: %(name)s") % {"name": c}) for c in categories
    ]
    product_choices += [(ext, f"{name} ({ext})") for ext, name, _c in products]
    intents = list(
        IntentRule.objects.filter(shop_id=shop_id).order_by("name").values_list("name", flat=True)
    )
    return ScopeChoices(
        segments=_with_kept([(s, s) for s in segments], group.scope_segments if group else []),
        products=_with_kept(product_choices, group.scope_products if group else []),
        intents=_with_kept([(i, i) for i in intents], group.scope_intents if group else []),
        order_statuses=list(order_status_labels().items()),
    )


def member_candidates(shop_id: int, group: Group | None = None) -> list[AgentState]:
    """The accounts that receive buyers (A4: the main account and the chat permission), active,
    and the group's current members whatever they are; main account first, then by name."""
    rows = AgentState.objects.filter(shop_id=shop_id).filter(
        Q(pk__in=AgentState.objects.receiving_buyers(shop_id).filter(account__is_active=True))
        | (Q(group=group) if group is not None else Q(pk__in=[]))
    )
    states = list(rows.select_related("account__shop", "group"))
    states.sort(key=lambda s: (s.account.kind != AccountKind.MAIN, s.account.label.lower()))
    return states


def _checkboxes(label: Any, help_text: Any = "") -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=label,
        required=False,
        help_text=help_text,
        widget=forms.CheckboxSelectMultiple,
    )


class GroupForm(forms.Form):
    """A group (API.md, Groups) and its members' routing fields (API.md, Accounts). It parses
    input only; every rule is the services'."""

    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=MAX_NAME,
        help_text=gettext_lazy("What agents see when they transfer a buyer, e.g. 售前 or VIP."),
    )
    max_concurrent = forms.IntegerField(
        label=gettext_lazy("Default max concurrent"),
        min_value=1,
        max_value=50,
        required=False,
        help_text=gettext_lazy(
            "1-50. How many buyers each member serves at once, unless the member has its own. "
            "Empty: the shop's default."
        ),
    )
    segments = _checkboxes(
        gettext_lazy("Buyer segments"),
        gettext_lazy("From the segments your shop's systems send with the buyers."),
    )
    products = _checkboxes(
        gettext_lazy("Products and categories"),
        gettext_lazy("The product of the page the buyer came from, or its category."),
    )
    intents = _checkboxes(
        gettext_lazy("Intents"),
        gettext_lazy("What the service assistant recognised in the buyer's words."),
    )
    order_statuses = _checkboxes(
        gettext_lazy("Order statuses"),
        gettext_lazy("The status of the buyer's latest order in the shop."),
    )
    members = forms.MultipleChoiceField(
        label=gettext_lazy("Members"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(
        self,
        *args: Any,
        choices: ScopeChoices,
        candidates: list[AgentState],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        for name in ("segments", "products", "intents", "order_statuses"):
            self.fields[name].choices = getattr(choices, name)  # type: ignore[attr-defined]
        self.candidates = candidates
        self.fields["members"].choices = [  # type: ignore[attr-defined]
            (str(s.account_id), s.account.label) for s in candidates
        ]
        for state in candidates:
            label = state.account.label
            self.fields[f"weight_{state.account_id}"] = forms.IntegerField(
                label=_("Weight of %(name)s") % {"name": label},
                min_value=1,
                max_value=100,
                required=False,  # empty: the weight it has
                initial=state.weight,
            )
            self.fields[f"max_concurrent_{state.account_id}"] = forms.IntegerField(
                label=_("Max concurrent of %(name)s") % {"name": label},
                min_value=1,
                max_value=50,
                required=False,
                initial=state.max_concurrent,
            )

    def member_rows(self) -> list[dict[str, Any]]:
        """One row of the members' table per candidate, with its two bound fields."""
        chosen = set(self["members"].value() or [])
        return [
            {
                "state": s,
                "account": s.account,
                "checked": str(s.account_id) in chosen,
                "weight": self[f"weight_{s.account_id}"],
                "max_concurrent": self[f"max_concurrent_{s.account_id}"],
            }
            for s in self.candidates
        ]


class _Rollback(Exception):
    """Leaves the page's transaction without writing anything (some field was refused)."""


class GroupListPage(ShopPermRequiredMixin, TemplateView):
    """The shop's groups and the mode they put it in (B2), with each scope said in words."""

    required_perm = Perm.MANAGE_ROUTING
    template_name = "web/admin/groups.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        shop_id = self.account.shop_id
        groups = list(
            Group.objects.filter(shop_id=shop_id)
            .prefetch_related("members__account")
            .order_by("name")
        )
        names = dict(Product.objects.filter(shop_id=shop_id).values_list("external_id", "name"))
        statuses = order_status_labels()
        rows = []
        for g in groups:
            members = sorted((m.account for m in g.members.all()), key=lambda a: a.label.lower())
            products = [
                _("Category: %(name)s") % {"name": p[len(CATEGORY_PREFIX) :]}
                if p.startswith(CATEGORY_PREFIX)
                else names.get(p, p)
                for p in g.scope_products
            ]
            scope = [
                (label, values)
                for label, values in (
                    (_("Segments"), g.scope_segments),
                    (_("Products"), products),
                    (_("Intents"), g.scope_intents),
                    (_("Order statuses"), [statuses.get(s, s) for s in g.scope_order_statuses]),
                )
                if values
            ]
            rows.append({"group": g, "members": members, "scope": scope})
        settings = self.account.shop.settings
        context.update(
            rows=rows,
            regular=bool(groups),
            shop_default_max=settings.default_max_concurrent,
        )
        return context


class GroupEditPage(ShopPermRequiredMixin, FormView):
    """``pk`` absent: a new group. One POST writes the group and its members together, through
    the API's services; any refused field rolls everything back and shows every error."""

    required_perm = Perm.MANAGE_ROUTING
    template_name = "web/admin/group_edit.html"
    form_class = GroupForm
    tenant_model = Group  # another shop's id answers 404 (SPEC A1)
    group: Group | None = None

    def check_access(self, **kwargs: Any) -> None:
        super().check_access(**kwargs)
        if "pk" in kwargs:
            try:
                self.group = group_get(actor=self.account, group_id=kwargs["pk"])
            except NotFound:
                raise Http404(_("No such group.")) from None

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs["choices"] = scope_choices(self.account.shop_id, self.group)
        kwargs["candidates"] = member_candidates(self.account.shop_id, self.group)
        return kwargs

    def get_initial(self) -> dict[str, Any]:
        g = self.group
        if g is None:
            return {}
        return {
            "name": g.name,
            "max_concurrent": g.max_concurrent,
            "segments": g.scope_segments,
            "products": g.scope_products,
            "intents": g.scope_intents,
            "order_statuses": g.scope_order_statuses,
            "members": [str(pk) for pk in g.members.values_list("account_id", flat=True)],
        }

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            group=self.group,
            shop_default_max=self.account.shop.settings.default_max_concurrent,
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = self.get_form()
        form.is_valid()  # the parsing errors; the services add theirs below
        moved: list[str] = []
        try:
            with transaction.atomic():
                group = self._write_group(form)
                # A refused rename still checks the members against the group as it is.
                target = group or self.group
                if target is not None:
                    moved = self._write_members(form, target)
                if form.errors:
                    raise _Rollback
        except _Rollback:
            return self.form_invalid(form)
        assert group is not None
        text = _("The group %(name)s was saved.") % {"name": group.name}
        if moved:
            text += " " + _("Moved into it from another group: %(names)s.") % {
                "names": ", ".join(moved)
            }
        messages.success(request, text)
        return redirect("web:admin-groups")

    def _scope(self, form: GroupForm) -> GroupScope | None:
        data = form.cleaned_data
        names = ("segments", "products", "intents", "order_statuses")
        if any(n not in data for n in names):  # a list was refused: the scope stays as it is
            return None
        return GroupScope(**{n: list(data[n]) for n in names})

    def _write_group(self, form: GroupForm) -> Group | None:
        """The group's own fields; ``None`` when it could not be written (errors on the form)."""
        data = form.cleaned_data
        try:
            if self.group is None:
                if "name" not in data:
                    return None
                return group_create(
                    actor=self.account,
                    name=data["name"],
                    max_concurrent=data.get("max_concurrent"),
                    scope=self._scope(form) or GroupScope(),
                )
            return group_update(
                actor=self.account,
                group_id=self.group.pk,
                name=data.get("name"),
                max_concurrent=data.get("max_concurrent", UNSET),
                scope=self._scope(form),
            )
        except DomainError as error:
            add_domain_error(form, error)
            return None

    def _write_members(self, form: GroupForm, group: Group) -> list[str]:
        """Ticked accounts join (leaving any other group, B3: at most one), with their weight
        and own max; unticked former members leave it. Returns who came from another group."""
        data = form.cleaned_data
        if "members" not in data:
            return []
        chosen = {int(pk) for pk in data["members"]}
        moved: list[str] = []
        for state in form.candidates:
            pk = state.account_id
            changes: dict[str, Any] = {}
            if pk in chosen:
                if state.group_id != group.pk:
                    changes["group"] = group
                    if state.group_id is not None:
                        moved.append(state.account.label)
                weight = data.get(f"weight_{pk}")
                if weight is not None and weight != state.weight:
                    changes["weight"] = weight
                if f"max_concurrent_{pk}" in data and data[f"max_concurrent_{pk}"] != (
                    state.max_concurrent
                ):
                    changes["max_concurrent"] = data[f"max_concurrent_{pk}"]
            elif state.group_id == group.pk:
                changes["group"] = None
            if not changes:
                continue
            try:
                account_services.account_update(
                    actor=self.account, account=state.account, **changes
                )
            except DomainError as error:
                form.add_error("members", f"{state.account.label}: {error.message}")
        return moved


class GroupDeletePage(ShopPermRequiredMixin, TemplateView):
    """GET says what deleting does (B2, C1, C3); POST deletes through ``group_delete``."""

    required_perm = Perm.MANAGE_ROUTING
    template_name = "web/admin/group_delete.html"
    tenant_model = Group

    def check_access(self, **kwargs: Any) -> None:
        super().check_access(**kwargs)
        try:
            self.group = group_get(actor=self.account, group_id=kwargs["pk"])
        except NotFound:
            raise Http404(_("No such group.")) from None

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        g = self.group
        members = sorted(
            (m.account for m in g.members.select_related("account")), key=lambda a: a.label
        )
        context.update(
            group=g,
            members=members,
            waiting=Conversation.objects.filter(
                shop_id=self.account.shop_id,
                state=State.QUEUED,
                candidate_group_ids__contains=[g.pk],
            ).count(),
            last_group=not Group.objects.filter(shop_id=self.account.shop_id)
            .exclude(pk=g.pk)
            .exists(),
            shop_default_max=self.account.shop.settings.default_max_concurrent,
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        name = self.group.name
        try:
            group_delete(actor=self.account, group_id=self.group.pk)
        except DomainError as error:
            messages.error(request, error.message)
            return redirect("web:admin-group-edit", pk=self.group.pk)
        messages.success(request, _("The group %(name)s was deleted.") % {"name": name})
        return redirect("web:admin-groups")


urlpatterns: list[URLPattern] = [
    path("admin/groups/", GroupListPage.as_view(), name="admin-groups"),
    path("admin/groups/new/", GroupEditPage.as_view(), name="admin-group-create"),
    path("admin/groups/<int:pk>/", GroupEditPage.as_view(), name="admin-group-edit"),
    path("admin/groups/<int:pk>/delete/", GroupDeletePage.as_view(), name="admin-group-delete"),
]
