"""Forms of the browser pages. They parse input only; every rule lives in the services, whose
domain errors are put back on the form by :func:`add_domain_error`."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import Account, AccountKind, login_name
from apps.accounts.permissions import ALL_PERMS, Perm
from apps.backoffice.services import FORBIDDEN_NAME_CHARS, RESERVED_SLUGS, SLUG_RE
from apps.core.errors import DomainError, InvalidFields
from apps.quickreplies.services import cleaned as quick_replies_cleaned
from apps.routing.models import Group
from apps.shops.models import Shop, WidgetPosition

DEFAULT_TIME_ZONE = "Asia/Shanghai"
# What AUTH_PASSWORD_VALIDATORS ask for, said before the services check it.
PASSWORD_HELP = _("At least 8 characters, not only digits and not a common password.")


def perm_labels() -> dict[str, Any]:
    """Readable, translated names of the permissions, from the shop model's declaration."""
    declared = dict(Shop._meta.permissions)
    return {perm.value: declared.get(perm.value, perm.value) for perm in ALL_PERMS}


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    """Region/City zones, sorted, and UTC; the legacy aliases without a region are left out."""
    zones = sorted(
        z
        for z in zoneinfo.available_timezones()
        if "/" in z and not z.startswith(("Etc/", "SystemV/"))
    )
    return [(z, z.replace("_", " ")) for z in ["UTC", *zones]]


def add_domain_error(form: forms.Form, error: DomainError) -> None:
    """Show a service's error on the field it names, or above the form; every field's messages
    of an ``InvalidFields``."""
    if isinstance(error, InvalidFields):
        for name, problems in error.errors.items():
            for problem in problems:
                form.add_error(name if name in form.fields else None, problem)
        return
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


class LoginForm(AuthenticationForm):
    """SPEC A2: ``shop`` or ``shop:name``; ShopLoginBackend accepts a full-width colon too."""

    username = forms.CharField(
        label=_("Login name"),
        help_text=_(
            "Main account: the shop name, e.g. demo. Sub-account: shop name, colon, account "
            "name, e.g. demo:xiaowang. A Chinese colon (：) works as well."
        ),
        widget=forms.TextInput(
            attrs={
                "autofocus": True,
                "autocomplete": "username",
                "autocapitalize": "none",
                "spellcheck": "false",
            }
        ),
    )

    # The backend refuses disabled accounts like a wrong password, so one message covers both.
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _(
            "The login name or the password is wrong, or the account is disabled. Check the "
            "shop name and the colon before the account name."
        ),
    }


def _new_password_field(label: Any, help_text: Any = PASSWORD_HELP) -> forms.CharField:
    return forms.CharField(
        label=label,
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=help_text,
    )


def _add_unless_invalid(form: forms.Form, name: str, problem: Any) -> None:
    """An error of a service's rule, on a field whose own checks passed (one message each)."""
    if name not in form.errors:
        form.add_error(name, problem)


class RepeatedPasswordForm(forms.Form):
    """``password`` typed twice (``password2``). The services judge its strength; the form
    asks the same validators (``AUTH_PASSWORD_VALIDATORS``) beforehand, so that a weak password
    shows together with every other field's error in one answer, not after the others are fixed.
    """

    def password_user(self) -> Account | None:
        """The account the password is for, as the similarity validator compares it."""
        return None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        password = data.get("password")
        if password:
            try:
                validate_password(password, user=self.password_user())
            except ValidationError as error:
                _add_unless_invalid(self, "password", " ".join(error.messages))
            if data.get("password2") != password:
                self.add_error("password2", _("The two passwords differ."))
        return data


class SignupForm(RepeatedPasswordForm):
    slug = forms.CharField(
        label=_("Shop login name"),
        max_length=30,
        help_text=_(
            "3-30 lowercase letters, digits or hyphens, e.g. tea-house. The main account signs in "
            "with it, sub-accounts as tea-house:name."
        ),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )
    name = forms.CharField(
        label=_("Shop name"),
        max_length=100,
        help_text=_("Shown to buyers and in the workbench."),
    )
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=time_zone_choices,
        initial=DEFAULT_TIME_ZONE,
        help_text=_("Business hours and daily figures follow this time zone."),
    )
    password = _new_password_field(_("Password"))
    password2 = _new_password_field(_("Password again"), help_text="")

    def clean_slug(self) -> str:
        return (self.cleaned_data.get("slug") or "").strip().lower()

    def clean(self) -> dict[str, Any]:
        """``shop_signup``'s rules (SPEC A1, ``apps.backoffice.services``), all at once: the
        service checks them one after the other and answers the first it meets."""
        data = super().clean()
        slug = data.get("slug")
        if slug:
            if not SLUG_RE.match(slug):
                _add_unless_invalid(
                    self,
                    "slug",
                    _(
                        "3-30 lowercase letters, digits or hyphens, not starting or ending "
                        "with a hyphen."
                    ),
                )
            elif slug in RESERVED_SLUGS:
                _add_unless_invalid(self, "slug", _("This name is reserved."))
            elif Shop.objects.filter(slug=slug).exists():
                _add_unless_invalid(self, "slug", _("A shop with this name already exists."))
        if "name" in data and not data["name"].strip():
            _add_unless_invalid(self, "name", _("This field may not be blank."))
        return data


class PermissionsField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", _("Permissions"))
        super().__init__(choices=list(perm_labels().items()), **kwargs)


def _limit_permissions(field: forms.Field, grantable: Iterable[str]) -> None:
    """Offer only what the acting account may hand out (it cannot grant what it lacks)."""
    allowed = set(grantable)
    field.choices = [  # type: ignore[attr-defined]
        (value, label) for value, label in perm_labels().items() if value in allowed
    ]


class RoutingFieldsMixin(forms.Form):
    routing_enabled = forms.BooleanField(
        label=_("Takes part in routing"),
        required=False,
        initial=True,
        help_text=_("When off, routing never assigns buyers to this account."),
    )
    group = forms.ModelChoiceField(
        label=_("Routing group"),
        queryset=Group.objects.none(),
        required=False,
        empty_label=_("No group"),
    )
    weight = forms.IntegerField(
        label=_("Weight"),
        min_value=1,
        max_value=100,
        initial=10,
        help_text=_(
            "1-100. A higher weight receives more buyers when the shop distributes evenly."
        ),
    )
    max_concurrent = forms.IntegerField(
        label=_("Max concurrent conversations"),
        min_value=1,
        max_value=50,
        required=False,
        help_text=_("1-50. Leave empty to use the group's or the shop's default."),
    )

    def set_groups(self, groups: QuerySet[Group]) -> None:
        self.fields["group"].queryset = groups  # type: ignore[attr-defined]


class AccountCreateForm(RoutingFieldsMixin):
    name = forms.CharField(
        label=_("Account name"),
        max_length=32,
        help_text=_(
            "The part after the colon in the login name; Chinese is fine. No colons, spaces, "
            "slashes or @."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    display_name = forms.CharField(
        label=_("Display name"),
        max_length=64,
        required=False,
        help_text=_("What buyers and colleagues see. Empty: the account name."),
    )
    password = _new_password_field(
        _("Password"),
        help_text=_("At least 8 characters. Tell it to the agent; they cannot see it here."),
    )
    permissions = PermissionsField(initial=[Perm.CHAT.value])

    field_order = [
        "name",
        "display_name",
        "password",
        "permissions",
        "routing_enabled",
        "group",
        "weight",
        "max_concurrent",
    ]

    def __init__(
        self, *args: Any, grantable: Iterable[str], shop: Shop | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.shop = shop
        _limit_permissions(self.fields["permissions"], grantable)

    def clean(self) -> dict[str, Any]:
        """``account_create``'s rules on the name and the password (SPEC A2), all at once: the
        service checks them one after the other and answers the first it meets."""
        data = super().clean() or {}
        name = (data.get("name") or "").strip()
        if "name" in data:
            if not name:
                _add_unless_invalid(self, "name", _("This field may not be blank."))
            elif FORBIDDEN_NAME_CHARS.search(name):
                _add_unless_invalid(
                    self, "name", _("A name may not contain colons, spaces, slashes or @.")
                )
            elif (
                self.shop is not None and Account.objects.filter(shop=self.shop, name=name).exists()
            ):
                _add_unless_invalid(self, "name", _("A sub-account with this name already exists."))
        password = data.get("password")
        if password:
            user = None
            if self.shop is not None and name:
                user = Account(
                    shop=self.shop,
                    kind=AccountKind.SUB,
                    name=name,
                    username=login_name(self.shop.slug, name),
                    display_name=(data.get("display_name") or "").strip(),
                )
            try:
                validate_password(password, user=user)
            except ValidationError as error:
                _add_unless_invalid(self, "password", " ".join(error.messages))
        return data


class AccountEditForm(RoutingFieldsMixin):
    display_name = forms.CharField(
        label=_("Display name"),
        max_length=64,
        required=False,
        help_text=_("What buyers and colleagues see. Empty: the account name."),
    )
    permissions = PermissionsField()

    field_order = [
        "display_name",
        "permissions",
        "routing_enabled",
        "group",
        "weight",
        "max_concurrent",
    ]

    def __init__(
        self, *args: Any, grantable: Iterable[str], permissions_editable: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.permissions_editable = permissions_editable
        field = self.fields["permissions"]
        if permissions_editable:
            _limit_permissions(field, grantable)
        else:
            # Shown, not submitted: a disabled field keeps its initial value.
            field.disabled = True


class PasswordResetForm(RepeatedPasswordForm):
    password = _new_password_field(_("New password"))
    password2 = _new_password_field(_("New password again"), help_text="")

    def __init__(self, *args: Any, account: Account | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account

    def password_user(self) -> Account | None:
        return self.account


_KEYWORD_SPLIT = re.compile(r"[,，、\n]+")


class QuickReplyForm(forms.Form):
    """SPEC D7; the names are the API's fields (API.md, "Quick replies")."""

    category = forms.CharField(
        label=_("Category"),
        max_length=50,
        required=False,
        help_text=_("Replies of a category are listed together, e.g. 物流 or 售后."),
    )
    text = forms.CharField(
        label=_("Text"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Up to 500 characters. The agent can still change it before sending."),
    )
    keywords = forms.CharField(
        label=_("Keywords"),
        required=False,
        help_text=_(
            "Separated by commas. When a buyer's message contains one, the reply is offered "
            "first. At most 20, each up to 20 characters."
        ),
    )
    position = forms.IntegerField(
        label=_("Position"),
        min_value=0,
        initial=0,
        help_text=_("Lower comes first within its category."),
    )

    def clean_keywords(self) -> list[str]:
        raw = self.cleaned_data.get("keywords") or ""
        return [k.strip() for k in _KEYWORD_SPLIT.split(raw) if k.strip()]

    def clean(self) -> dict[str, Any]:
        """The service's own rules (``quickreplies.services.cleaned``) on what the fields let
        through, so that their errors show with the fields' at once."""
        data = super().clean() or {}
        try:
            quick_replies_cleaned(
                text=data.get("text") or "",
                keywords=data.get("keywords") or [],
                category=data.get("category") or "",
                position=data.get("position") or 0,
            )
        except InvalidFields as error:
            for name, problems in error.errors.items():
                if name not in self.errors:
                    for problem in problems:
                        self.add_error(name, problem)
        return data


class QuickReplyImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8, a header line with the columns category, text, keywords (separated by ;) "
            "and position, as the export writes it. The replies are added to the shop's."
        ),
    )


class WidgetSettingsForm(forms.Form):
    """The widget's settings (SPEC F1, H3); the names are the settings API's fields."""

    widget_origins = forms.CharField(
        label=_("Sites that may show the widget"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text=_(
            "One origin per line, e.g. https://www.example.com (scheme, host and port, no path). "
            "Only pages of these sites can frame the widget."
        ),
    )
    entrances = forms.MultipleChoiceField(
        label=_("Entrances"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Where buyers may start a conversation from."),
    )
    allow_anonymous_buyers = forms.BooleanField(
        label=_("Anonymous visitors may chat"),
        required=False,
        help_text=_("Without a signed buyer id. Off: the shop's pages must sign every buyer."),
    )
    # How it looks (seed 003): the settings API's fields and the model's rules.
    widget_title = forms.CharField(
        label=_("Title"),
        required=False,
        max_length=40,
        help_text=_("At the top of the widget. Empty: the shop's name."),
    )
    widget_color = forms.RegexField(
        label=_("Colour"),
        regex=r"^#[0-9a-fA-F]{6}$",
        error_messages={"invalid": _("A colour as #RRGGBB, e.g. #1f5fbf.")},
        widget=forms.TextInput(attrs={"type": "color"}),
        help_text=_("The header, the buttons and the launcher on your pages."),
    )
    widget_position = forms.ChoiceField(
        label=_("Launcher position"),
        choices=WidgetPosition.choices,
        widget=forms.RadioSelect,
        help_text=_("The corner of your pages where the chat button sits."),
    )
    widget_greeting = forms.CharField(
        label=_("Greeting"),
        required=False,
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("What buyers read before they write anything. Empty: none."),
    )
    # Seed 002: the "choose your question" menu, and the links of the order and after-sales
    # cards to the shop's own pages (the service checks the links: http(s), one placeholder).
    intent_menu_enabled = forms.BooleanField(
        label=_("Offer the intents as a question menu"),
        required=False,
        help_text=_(
            "Before the human button, buyers may pick their question from the shop's intents; "
            "the choice routes them like a detected intent."
        ),
    )
    order_url_template = forms.CharField(
        label=_("Order page link"),
        required=False,
        max_length=300,
        widget=forms.URLInput(attrs={"spellcheck": "false"}),
        help_text=_(
            "Your site's page of an order, with {order} where its number goes, e.g. "
            "https://shop.example/orders/{order}. Order cards link to it."
        ),
    )
    after_sale_url_template = forms.CharField(
        label=_("After-sales page link"),
        required=False,
        max_length=300,
        widget=forms.URLInput(attrs={"spellcheck": "false"}),
        help_text=_(
            "Your site's page of an after-sales request, with {after_sale} where its number "
            "goes. After-sales cards link to it."
        ),
    )

    def __init__(
        self, *args: Any, entrance_choices: Iterable[tuple[str, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["entrances"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = list(entrance_choices)

    def clean_widget_origins(self) -> list[str]:
        origins: list[str] = []
        bad: list[str] = []
        for line in (self.cleaned_data.get("widget_origins") or "").splitlines():
            value = line.strip().rstrip("/")
            if not value:
                continue
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
                bad.append(value)
            elif value not in origins:
                origins.append(value)
        if bad:
            raise forms.ValidationError(
                _("Not an origin (scheme://host[:port]): %(values)s") % {"values": ", ".join(bad)}
            )
        return origins


class ShopProfileForm(forms.Form):
    """G1: the shop's profile and the switch of the whole service; the API's field names."""

    name = forms.CharField(label=_("Shop name"), max_length=100, help_text=_("What buyers see."))
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        help_text=_("Sets the shop's days: business hours, the once-a-day welcome, metrics."),
    )
    language = forms.ChoiceField(
        label=_("Language of automatic messages"),
        help_text=_("The language buyers read the default automatic texts in."),
    )
    system_enabled = forms.BooleanField(
        label=_("Customer service is on"),
        required=False,
        help_text=_(
            "Off: buyers cannot start a conversation (the widget says the service is not "
            "available); conversations already open go on."
        ),
    )

    def __init__(
        self,
        *args: Any,
        time_zones: Iterable[str],
        languages: Iterable[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        zone = self.fields["time_zone"]
        assert isinstance(zone, forms.ChoiceField)
        zone.choices = [(z, z) for z in time_zones]
        language = self.fields["language"]
        assert isinstance(language, forms.ChoiceField)
        language.choices = list(languages)
