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
from apps.backoffice.services import can_act_on
from apps.core.errors import NotFound


class StaffPageMixin(LoginRequiredMixin):
    """A signed-in account of a shop (``self.account``); anonymous callers go to the login page.

    Disabled accounts have no session: the backend refuses them, so they count as anonymous.
    Subclasses add their checks in :meth:`check_access`, which runs before any handler.
    """

    request: HttpRequest
    account: Account

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        assert isinstance(request.user, Account)
        self.account = request.user
        self.check_access(**kwargs)
        return super().dispatch(request, *args, **kwargs)

    def check_access(self, **kwargs: Any) -> None:
        """Raise PermissionDenied (403) or Http404 to refuse the request."""


class ShopPermRequiredMixin(StaffPageMixin):
    """Needs ``required_perm`` on the caller's shop; without it a readable 403 page."""

    required_perm: Perm

    def check_access(self, **kwargs: Any) -> None:
        super().check_access(**kwargs)
        if not has_perm(self.account, self.required_perm):
            raise PermissionDenied(
                _("Your account does not have the permission to open this page.")
            )


class ShopAccountMixin(ShopPermRequiredMixin):
    """Loads ``self.target``, an account of the caller's shop; missing and foreign answer 404,
    and one the caller may not act on (more permissions than its own, amended A4) 403."""

    required_perm = Perm.MANAGE_ACCOUNTS
    target: Account

    def check_access(self, **kwargs: Any) -> None:
        super().check_access(**kwargs)
        try:
            self.target = account_get(shop_id=self.account.shop_id, account_id=kwargs["pk"])
        except NotFound:
            raise Http404(_("No such account.")) from None
        if not can_act_on(self.account, self.target):  # amended A4
            raise PermissionDenied(
                _("This account holds permissions you do not hold, so you cannot change it.")
            )
