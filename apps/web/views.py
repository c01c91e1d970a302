"""Browser pages (SPEC A1-A4, E1, G1). Views parse a form, call one service, answer with a
redirect (POST-redirect-GET); domain errors go back onto the form or into a message."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from django.conf import settings as django_settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.generic import FormView, RedirectView, TemplateView, View

from apps.accounts.models import Account
from apps.accounts.permissions import Perm, has_perm, perms_of
from apps.accounts.selectors import account_get, accounts_of_shop
from apps.backoffice import services
from apps.backoffice.shop_settings import settings_update, widget_secret_rotate
from apps.conversations.buyers import buyer_signature
from apps.conversations.lifecycle import agent_set_status
from apps.conversations.models import Entrance
from apps.core.csp import allow_framing
from apps.core.errors import DomainError, Forbidden, NotFound
from apps.quickreplies import services as quick_services
from apps.quickreplies.models import QuickReply
from apps.quickreplies.selectors import replies_for, replies_visible_to, reply_get
from apps.routing.models import AgentStatus, Group
from apps.routing.snapshot import effective_max
from apps.shops.models import Shop, ShopSettings
from apps.web.demo import DEMO_SLUG
from apps.web.forms import (
    AccountCreateForm,
    AccountEditForm,
    LoginForm,
    PasswordResetForm,
    QuickReplyForm,
    QuickReplyImportForm,
    ShopProfileForm,
    SignupForm,
    WidgetSettingsForm,
    add_domain_error,
    perm_labels,
)
from apps.web.menu import first_admin_page
from apps.web.mixins import ShopAccountMixin, ShopPermRequiredMixin, StaffPageMixin
from apps.web.throttle import throttle_wait

LOGIN_BACKEND = "apps.accounts.backends.ShopLoginBackend"


def home(request: HttpRequest) -> HttpResponse:
    return redirect("web:workbench" if request.user.is_authenticated else "web:login")


def _throttled(seconds: int) -> str:
    return _("Too many attempts from your address. Try again in %(seconds)d seconds.") % {
        "seconds": seconds
    }


# --- Signing in and up (SPEC A1, A2) ---------------------------------------------------------


class LoginPage(auth_views.LoginView):
    template_name = "web/login.html"
    form_class = LoginForm

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Counted in the API's "auth" bucket before any password is checked.
        wait = throttle_wait(request, "auth")
        if wait is not None:
            form = self.form_class(request, initial={"username": request.POST.get("username", "")})
            context = self.get_context_data(form=form, throttled=_throttled(wait))
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        # Set by the workbench when its socket was closed because access was revoked (SPEC A3).
        context["revoked"] = self.request.GET.get("revoked") == "1"
        return context


class LogoutPage(auth_views.LogoutView):
    """POST only. Signing out of the workbench takes the agent offline, like closing for the day."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if isinstance(user, Account):
            agent_set_status(account=user, status=AgentStatus.OFFLINE, reason="logout")
        response = super().post(request, *args, **kwargs)
        messages.info(request, _("You are signed out."))
        return response


class SignupPage(FormView):
    template_name = "web/signup.html"
    form_class = SignupForm

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        wait = throttle_wait(request, "signup")
        if wait is not None:
            form = self.get_form()
            form.is_valid()
            form.add_error(None, _throttled(wait))
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: SignupForm) -> HttpResponse:
        data = form.cleaned_data
        try:
            signup = services.shop_signup(
                slug=data["slug"],
                name=data["name"],
                password=data["password"],
                time_zone=data["time_zone"],
            )
        except DomainError as error:
            add_domain_error(form, error)
            return self.form_invalid(form)
        login(self.request, signup.account, backend=LOGIN_BACKEND)
        messages.success(
            self.request,
            _(
                "Your shop %(shop)s is ready. You sign in as %(login)s. Create your agents' "
                "sub-accounts under Accounts."
            )
            % {"shop": signup.shop.name, "login": signup.account.username},
        )
        return redirect("web:workbench")


# --- Agent workbench (SPEC E1) ---------------------------------------------------------------


class WorkbenchPage(StaffPageMixin, TemplateView):
    template_name = "web/workbench.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        account = account_get(shop_id=self.account.shop_id, account_id=self.account.pk)
        state = account.agent_state
        shop_settings = account.shop.settings
        group_max = state.group.max_concurrent if state.group else None
        inherited = effective_max(None, group_max, shop_settings.default_max_concurrent)
        # Transfer targets (SPEC B12), the main account included, grouped by status: the
        # transfer service takes only an online account that may chat (A4), so paused and
        # offline colleagues are shown with their status but cannot be chosen; accounts that
        # never chat are left out. The workbench reads this page again when the form opens.
        colleagues: dict[str, list[Account]] = {s.value: [] for s in AgentStatus}
        for a in accounts_of_shop(shop_id=account.shop_id).filter(is_active=True):
            if a.pk != account.pk and has_perm(a, Perm.CHAT):
                colleagues[a.agent_state.status].append(a)
        context.update(
            account=account,
            state=state,
            colleagues=[(value, label, colleagues[value]) for value, label in AgentStatus.choices],
            entrance_labels=dict(Entrance.choices),  # E3: the entrance as buyers' pages name it
            groups=_groups_of(account),
            statuses=AgentStatus.choices,
            can_set_max=shop_settings.agents_set_own_max,
            inherited_max=inherited,
            effective_max=effective_max(
                state.max_concurrent, group_max, shop_settings.default_max_concurrent
            ),
            can_claim=has_perm(account, Perm.CHAT),  # B11: the message pool, claimed by hand
            # I3 (amended): watching live conversations (supervise.js), and taking them over
            can_supervise=has_perm(account, Perm.VIEW_MONITOR),
            can_take_over=has_perm(account, Perm.VIEW_MONITOR) and has_perm(account, Perm.CHAT),
            # E4, E5: who edits order notes and sends after-sales cards (buyer_panel.js)
            can_handle_orders=has_perm(account, Perm.HANDLE_ORDERS),
            can_handle_after_sales=has_perm(account, Perm.HANDLE_AFTER_SALES),
            # I6: who blocks and unblocks a buyer from the panel (buyer_block.js), as the API
            can_block_buyers=has_perm(account, Perm.MANAGE_SETTINGS),
            image_max_bytes=django_settings.HELPDESK_IMAGE_MAX_BYTES,  # I1: checked before upload
        )
        return context


# --- Main-account admin: accounts (SPEC A2-A4, G1) -------------------------------------------


class AdminHome(StaffPageMixin, RedirectView):
    """The first admin page the account may open (``menu``); an account that may open none
    sees the accounts page's readable 403."""

    def get_redirect_url(self, *args: Any, **kwargs: Any) -> str | None:
        return first_admin_page(set(perms_of(self.account))) or reverse("web:admin-accounts")


def _groups_of(account: Account) -> QuerySet[Group]:
    return Group.objects.filter(shop_id=account.shop_id).order_by("name")


class AccountListPage(ShopPermRequiredMixin, TemplateView):
    required_perm = Perm.MANAGE_ACCOUNTS
    template_name = "web/admin/account_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        labels = perm_labels()
        accounts = list(accounts_of_shop(shop_id=self.account.shop_id))
        rows = [
            {
                "account": a,
                "perms": [labels[p] for p in perms_of(a)],
                "all_perms": a.is_main,
                "editable": services.can_act_on(self.account, a),
            }
            for a in accounts
        ]
        used = sum(1 for a in accounts if not a.is_main)
        quota = self.account.shop.sub_account_quota
        context.update(rows=rows, used=used, quota=quota, quota_full=used >= quota)
        return context


class AccountCreatePage(ShopPermRequiredMixin, FormView):
    required_perm = Perm.MANAGE_ACCOUNTS
    template_name = "web/admin/account_create.html"
    form_class = AccountCreateForm

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs["grantable"] = perms_of(self.account)
        kwargs["shop"] = self.account.shop  # its rules are checked with every field's (A2)
        return kwargs

    def get_form(self, form_class: Any = None) -> AccountCreateForm:
        form = super().get_form(form_class)
        form.set_groups(_groups_of(self.account))
        return form

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["login_prefix"] = f"{self.account.shop.slug}:"
        return context

    def form_valid(self, form: AccountCreateForm) -> HttpResponse:
        data = form.cleaned_data
        try:
            account = services.account_create(
                actor=self.account,
                name=data["name"],
                password=data["password"],
                display_name=data["display_name"],
                permissions={Perm(p) for p in data["permissions"]},
                routing_enabled=data["routing_enabled"],
                group=data["group"],
                weight=data["weight"],
                max_concurrent=data["max_concurrent"],
            )
        except DomainError as error:
            add_domain_error(form, error)
            return self.form_invalid(form)
        messages.success(
            self.request,
            _("Sub-account %(login)s was created. Give the agent this login name and the password.")
            % {"login": account.username},
        )
        return redirect("web:admin-accounts")


class AccountEditPage(ShopAccountMixin, FormView):
    template_name = "web/admin/account_edit.html"
    form_class = AccountEditForm

    @cached_property
    def permissions_lock_reason(self) -> str | None:
        """Why the permissions of the account cannot be changed here, if they cannot."""
        if self.target.is_main:
            return _("The main account holds every permission, always.")
        if self.target.pk == self.account.pk:
            return _("You cannot change your own permissions.")
        return None  # a more privileged account is refused before (ShopAccountMixin)

    def get_initial(self) -> dict[str, Any]:
        state = self.target.agent_state
        return {
            "display_name": self.target.display_name,
            "permissions": perms_of(self.target),
            "routing_enabled": state.routing_enabled,
            "group": state.group,
            "weight": state.weight,
            "max_concurrent": state.max_concurrent,
        }

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs["grantable"] = perms_of(self.account)
        kwargs["permissions_editable"] = self.permissions_lock_reason is None
        return kwargs

    def get_form(self, form_class: Any = None) -> AccountEditForm:
        form = super().get_form(form_class)
        form.set_groups(_groups_of(self.account))
        return form

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            target=self.target,
            is_self=self.target.pk == self.account.pk,
            permissions_lock_reason=self.permissions_lock_reason,
        )
        return context

    def form_valid(self, form: AccountEditForm) -> HttpResponse:
        data = form.cleaned_data
        try:
            services.account_update(
                actor=self.account,
                account=self.target,
                display_name=data["display_name"],
                permissions=(
                    {Perm(p) for p in data["permissions"]} if form.permissions_editable else None
                ),
                routing_enabled=data["routing_enabled"],
                group=data["group"],
                weight=data["weight"],
                max_concurrent=data["max_concurrent"],
            )
        except DomainError as error:
            add_domain_error(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("%(login)s was saved.") % {"login": self.target.username})
        return redirect("web:admin-accounts")


class AccountActivePage(ShopAccountMixin, View):
    """POST ``active=1`` enables, ``active=0`` disables (SPEC A3: access ends at once)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        active = request.POST.get("active") == "1"
        try:
            services.account_set_active(actor=self.account, account=self.target, active=active)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            if active:
                text = _("%(login)s is enabled and can sign in again.")
            else:
                text = _("%(login)s is disabled: it was signed out everywhere and cannot sign in.")
            messages.success(request, text % {"login": self.target.username})
        return redirect("web:admin-account-edit", pk=self.target.pk)


class AccountPasswordPage(ShopAccountMixin, FormView):
    template_name = "web/admin/account_password.html"
    form_class = PasswordResetForm

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs["account"] = self.target  # the password validators compare it with its names
        return kwargs

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(target=self.target, is_self=self.target.pk == self.account.pk)
        return context

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        try:
            services.account_reset_password(
                actor=self.account, account=self.target, password=form.cleaned_data["password"]
            )
        except DomainError as error:
            add_domain_error(form, error)
            return self.form_invalid(form)
        if self.target.pk == self.account.pk:
            # Other sessions end; this one stays signed in.
            update_session_auth_hash(self.request, self.target)
            text = _("Your password was changed. Your other sessions were signed out.")
        else:
            text = _("The password of %(login)s was changed and its sessions were signed out.")
        messages.success(self.request, text % {"login": self.target.username})
        return redirect("web:admin-accounts")


class AccountDeletePage(ShopAccountMixin, TemplateView):
    """GET asks for confirmation; POST deletes."""

    template_name = "web/admin/account_delete.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(target=self.target, is_self=self.target.pk == self.account.pk)
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        login_name = self.target.username
        try:
            services.account_delete(actor=self.account, account=self.target)
        except DomainError as error:
            messages.error(request, error.message)
            return redirect("web:admin-account-edit", pk=self.target.pk)
        messages.success(request, _("%(login)s was deleted.") % {"login": login_name})
        return redirect("web:admin-accounts")


# --- Buyer widget demo (SPEC F) --------------------------------------------------------------


class WidgetDemoPage(TemplateView):
    """The demo shop's buyer widget (SPEC F1-F4), as a shop would embed it: the shop's own page
    signs the buyer id with the widget secret (H3) on its server, which this view plays."""

    template_name = "web/widget_demo.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        shop = Shop.objects.filter(slug=DEMO_SLUG).select_related("settings").first()
        context["widget_shop"] = shop
        context["image_max_bytes"] = django_settings.HELPDESK_IMAGE_MAX_BYTES  # SPEC I1
        if shop is not None:
            context["appearance"] = shop.settings.widget_appearance()
            buyer_id = self.request.session.get("demo_buyer_id")
            if not buyer_id:
                buyer_id = f"visitor-{secrets.token_hex(4)}"
                self.request.session["demo_buyer_id"] = buyer_id
            context["widget"] = {
                "shop": shop.slug,
                "buyer_id": buyer_id,
                # H3, as the shop's server computes it (API.md, buyer widget).
                "signature": buyer_signature(shop.settings.widget_secret, buyer_id),
                "entrance": "member",
                "product": "",
                "order": "",
            }
        return context


@method_decorator(xframe_options_exempt, name="dispatch")
class ShopWidgetPage(TemplateView):
    """A shop's buyer widget (SPEC F1-F4, H3), mobile first, as ``static/js/embed.js`` frames it
    from the shop's pages: ``?entrance=&product=&order=`` say where the buyer came from, and the
    signed identity comes in the URL's fragment (``#buyer_id=&signature=&name=``), which never
    reaches a server log nor a Referer. Only the shop's ``widget_origins`` (and this site) may
    frame it (``apps.core.csp``); every other page may be framed by nobody."""

    template_name = "web/widget_demo.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        shop = Shop.objects.filter(slug=kwargs["slug"]).select_related("settings").first()
        if shop is None:
            raise Http404(_("No such shop."))
        self.shop = shop
        response = super().get(request, *args, **kwargs)
        allow_framing(response, list(shop.settings.widget_origins))
        return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        settings = self.shop.settings
        entrance = self.request.GET.get("entrance", "")
        if entrance not in settings.entrances and settings.entrances:
            entrance = settings.entrances[0]  # the session start refuses what is not offered
        context["widget_shop"] = self.shop
        context["image_max_bytes"] = django_settings.HELPDESK_IMAGE_MAX_BYTES  # SPEC I1
        context["appearance"] = settings.widget_appearance()
        context["widget"] = {
            "shop": self.shop.slug,
            "buyer_id": "",
            "signature": "",
            "entrance": entrance,
            "product": self.request.GET.get("product", "")[:64],
            "order": self.request.GET.get("order", "")[:64],
            "from_hash": True,
        }
        return context


# --- Quick replies (SPEC D7) ---------------------------------------------------------------


class QuickReplyAccessMixin(StaffPageMixin):
    """Open to the accounts that chat (their personal replies) and to those who manage the
    shop's settings (the shop-wide ones); others get the readable 403."""

    def check_access(self, **kwargs: Any) -> None:
        super().check_access(**kwargs)
        if not (
            has_perm(self.account, Perm.CHAT) or quick_services.can_manage_shop_wide(self.account)
        ):
            raise PermissionDenied(
                _("Your account does not have the permission to open this page.")
            )


class QuickReplyListPage(QuickReplyAccessMixin, FormView):
    template_name = "web/admin/quick_replies.html"
    form_class = QuickReplyImportForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        # Seed 003: the list by category (all by default) and a search, the API's q and category.
        categories = sorted(
            set(replies_visible_to(self.account).values_list("category", flat=True)) - {""}
        )
        q = self.request.GET.get("q", "").strip()[:100]
        category = self.request.GET.get("category")
        if category not in categories:
            category = None
        replies = replies_for(self.account, q=q, category=category)
        context.update(
            categories=categories,
            q=q,
            category=category,
            filtered=bool(q or category),
            shop_wide=[r for r in replies if not r.personal],
            personal=[r for r in replies if r.personal],
            can_manage=quick_services.can_manage_shop_wide(self.account),
            can_personal=has_perm(self.account, Perm.CHAT),
        )
        return context

    def form_valid(self, form: QuickReplyImportForm) -> HttpResponse:
        raw = form.cleaned_data["file"].read()
        try:
            made = quick_services.import_csv(actor=self.account, data=raw.decode("utf-8"))
        except UnicodeDecodeError:
            form.add_error("file", _("The file is not UTF-8 text."))
            return self.form_invalid(form)
        except DomainError as error:
            if isinstance(error, Forbidden):
                raise PermissionDenied(error.message) from None
            add_domain_error(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("%(n)d quick replies were added.") % {"n": len(made)})
        return redirect("web:admin-quick-replies")


class QuickReplyEditPage(QuickReplyAccessMixin, FormView):
    """``pk`` absent: a new reply, shop-wide unless ``?personal=1``."""

    template_name = "web/admin/quick_reply_edit.html"
    form_class = QuickReplyForm
    reply: QuickReply | None = None

    def check_access(self, **kwargs: Any) -> None:
        super().check_access(**kwargs)
        if "pk" in kwargs:
            try:
                self.reply = reply_get(account=self.account, reply_id=kwargs["pk"])
            except NotFound:
                raise Http404(_("No such quick reply.")) from None
        personal = self.reply.personal if self.reply else self.request.GET.get("personal") == "1"
        self.personal = personal
        allowed = (
            has_perm(self.account, Perm.CHAT)
            if personal
            else quick_services.can_manage_shop_wide(self.account)
        )
        if not allowed:
            raise PermissionDenied(
                _("Shop-wide quick replies need the manage settings permission.")
            )

    def get_initial(self) -> dict[str, Any]:
        r = self.reply
        if r is None:
            return {"position": 0}
        return {
            "category": r.category,
            "text": r.text,
            "keywords": ", ".join(r.keywords),
            "position": r.position,
        }

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(reply=self.reply, personal=self.personal)
        return context

    def form_valid(self, form: QuickReplyForm) -> HttpResponse:
        data = form.cleaned_data
        try:
            if self.reply is None:
                quick_services.quick_reply_create(
                    actor=self.account,
                    text=data["text"],
                    keywords=data["keywords"],
                    category=data["category"],
                    position=data["position"],
                    personal=self.personal,
                )
            else:
                quick_services.quick_reply_update(
                    actor=self.account,
                    reply=self.reply,
                    text=data["text"],
                    keywords=data["keywords"],
                    category=data["category"],
                    position=data["position"],
                )
        except DomainError as error:
            add_domain_error(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("The quick reply was saved."))
        return redirect("web:admin-quick-replies")


class QuickReplyDeletePage(QuickReplyEditPage):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        assert self.reply is not None
        quick_services.quick_reply_delete(actor=self.account, reply=self.reply)
        messages.success(request, _("The quick reply was deleted."))
        return redirect("web:admin-quick-replies")


# --- The widget (SPEC F1, H3) ----------------------------------------------------------------


class WidgetSettingsPage(ShopPermRequiredMixin, FormView):
    """Allowed sites, entrances, anonymous visitors; the embed snippet, a live preview and, for
    the main account, the widget secret and its rotation."""

    required_perm = Perm.MANAGE_SETTINGS
    template_name = "web/admin/widget.html"
    form_class = WidgetSettingsForm

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs["entrance_choices"] = Entrance.choices
        return kwargs

    def get_initial(self) -> dict[str, Any]:
        s = self.account.shop.settings
        return {
            "widget_origins": "\n".join(s.widget_origins),
            "entrances": list(s.entrances),
            "allow_anonymous_buyers": s.allow_anonymous_buyers,
            "widget_title": s.widget_title,
            "widget_color": s.widget_color,
            "widget_position": s.widget_position,
            "widget_greeting": s.widget_greeting,
            "intent_menu_enabled": s.intent_menu_enabled,
            "order_url_template": s.order_url_template,
            "after_sale_url_template": s.after_sale_url_template,
        }

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        shop = self.account.shop
        settings = shop.settings
        base = self.request.build_absolute_uri("/").rstrip("/")
        preview_buyer = f"preview-{self.account.pk}"
        signature = buyer_signature(settings.widget_secret, preview_buyer)
        fragment = urlencode({"buyer_id": preview_buyer, "signature": signature})
        query = urlencode({"entrance": settings.entrances[0]} if settings.entrances else {})
        context.update(
            shop=shop,
            snippet=(
                f'<script src="{base}/static/js/embed.js" data-shop="{shop.slug}" '
                'data-entrance="product" data-product="PRODUCT-ID" data-buyer-id="BUYER-ID" '
                'data-signature="HMAC-SHA256-OF-BUYER-ID" async></script>'
            ),
            preview_url=f"/widget/{shop.slug}/?{query}#{fragment}",
            widget_secret=settings.widget_secret if self.account.is_main else None,
        )
        return context

    def form_valid(self, form: WidgetSettingsForm) -> HttpResponse:
        try:
            settings_update(actor=self.account, changes=dict(form.cleaned_data))
        except DomainError as error:
            add_domain_error(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("The widget settings were saved."))
        return redirect("web:admin-widget")


class WidgetSecretRotatePage(ShopPermRequiredMixin, View):
    """H3: a new secret; the main account alone (the settings API's rule)."""

    required_perm = Perm.MANAGE_SETTINGS
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not self.account.is_main:
            raise PermissionDenied(_("Only the main account can rotate the widget secret."))
        widget_secret_rotate(actor=self.account)
        messages.success(
            request,
            _("A new widget secret is in place: signatures made with the old one no longer work."),
        )
        return redirect("web:admin-widget")


# --- The shop's profile (G1) -------------------------------------------------------------------


class ShopProfilePage(ShopPermRequiredMixin, FormView):
    """Name, time zone, language of automatic messages and the service's switch, saved together
    (one transaction) through the same services as ``PATCH /api/v1/shop/`` and
    ``PATCH /api/v1/settings/``."""

    required_perm = Perm.MANAGE_SETTINGS
    template_name = "web/admin/shop.html"
    form_class = ShopProfileForm

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs["time_zones"] = services.time_zones()
        kwargs["languages"] = ShopSettings._meta.get_field("language").choices or []
        return kwargs

    def get_initial(self) -> dict[str, Any]:
        shop = self.account.shop
        return {
            "name": shop.name,
            "time_zone": shop.time_zone,
            "language": shop.settings.language,
            "system_enabled": shop.settings.system_enabled,
        }

    def form_valid(self, form: ShopProfileForm) -> HttpResponse:
        data = form.cleaned_data
        try:
            with transaction.atomic():
                services.shop_profile_update(
                    actor=self.account, name=data["name"], time_zone=data["time_zone"]
                )
                settings_update(
                    actor=self.account,
                    changes={
                        "language": data["language"],
                        "system_enabled": data["system_enabled"],
                    },
                )
        except DomainError as error:
            add_domain_error(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _("The shop's profile was saved."))
        return redirect("web:admin-shop")
