"""Entry-point checks for the pages (STYLE 5): signed in, active, holding a named permission."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseBase
from django.utils.translation import gettext as _

from apps.accounts.models import Account
from apps.accounts.permissions import Perm, has_perm
from apps.accounts.selectors import account_get
from apps.core.errors import NotFound


class StaffPageMixin(LoginRequiredMixin):
    """A signed-in account of a shop; ``self.account`` is the caller."""

    request: HttpRequest
    account: Account

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.user.is_authenticated:  # else LoginRequiredMixin sends to the login page
            assert isinstance(request.user, Account)
            self.account = request.user
        return super().dispatch(request, *args, **kwargs)


class ShopPermRequiredMixin(StaffPageMixin):
    """Needs ``required_perm`` on the caller's shop; without it a readable 403 page."""

    required_perm: Perm

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if user.is_authenticated:
            assert isinstance(user, Account)
            if not has_perm(user, self.required_perm):
                raise PermissionDenied(self.denied_message())
        return super().dispatch(request, *args, **kwargs)

    def denied_message(self) -> str:
        return _("Your account does not have the permission to open this page.")


class ShopAccountMixin(ShopPermRequiredMixin):
    """Loads ``self.target``, an account of the caller's shop; missing and foreign answer 404."""

    required_perm = Perm.MANAGE_ACCOUNTS
    target: Account

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if user.is_authenticated and has_perm(user, self.required_perm):  # type: ignore[arg-type]
            try:
                self.target = account_get(shop_id=user.shop_id, account_id=kwargs["pk"])  # type: ignore[union-attr]
            except NotFound:
                raise Http404(_("No such account.")) from None
        return super().dispatch(request, *args, **kwargs)
