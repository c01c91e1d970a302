"""Helpers of the page tests (tests/web): a signed-in browser client, a shop's settings."""

from __future__ import annotations

from django.test import Client

from apps.accounts.models import Account
from apps.shops.models import ShopSettings
from conftest import ShopKit


def signed_in(account: Account) -> Client:
    """A Django test client with ``account``'s session (as after signing in)."""
    client = Client()
    client.force_login(account)
    return client


def settings_of(kit: ShopKit) -> ShopSettings:
    """The shop's settings as stored now."""
    return ShopSettings.objects.get(shop=kit.shop)
