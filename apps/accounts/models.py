"""Accounts (SPEC A2-A4): the shop's main account and its sub-accounts."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from guardian.models import UserObjectPermissionBase


class AccountKind(models.TextChoices):
    MAIN = "main", _("Main account")
    SUB = "sub", _("Sub-account")


def login_name(shop_slug: str, name: str = "") -> str:
    """SPEC A2: the main account logs in as ``shop``, a sub-account as ``shop:name``."""
    return f"{shop_slug}:{name}" if name else shop_slug


class AccountManager(BaseUserManager["Account"]):
    use_in_migrations = True

    def create_user(self, username: str, password: str | None = None, **extra: Any) -> Account:
        account = self.model(username=username, **extra)
        account.set_password(password)
        account.save(using=self._db)
        return account


class Account(AbstractBaseUser, PermissionsMixin):
    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="accounts")
    kind = models.CharField(_("kind"), max_length=4, choices=AccountKind.choices)
    # Empty for the main account; the part after the colon for a sub-account. May be Chinese.
    name = models.CharField(_("name"), max_length=32, blank=True)
    username = models.CharField(_("login name"), max_length=64, unique=True)
    display_name = models.CharField(_("display name"), max_length=64, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects: ClassVar[AccountManager] = AccountManager()  # type: ignore[assignment]

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        constraints = [
            models.UniqueConstraint(fields=["shop", "name"], name="account_unique_name_per_shop"),
            models.UniqueConstraint(
                fields=["shop"],
                condition=models.Q(kind="main"),
                name="account_one_main_per_shop",
            ),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def is_main(self) -> bool:
        return self.kind == AccountKind.MAIN

    @property
    def label(self) -> str:
        """What buyers and colleagues see."""
        return self.display_name or self.name or self.shop.name


class ShopAccountPermission(UserObjectPermissionBase):
    """django-guardian object permission with a direct foreign key to the shop (SPEC A4)."""

    content_object = models.ForeignKey("shops.Shop", on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        abstract = False
