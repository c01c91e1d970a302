"""Fixtures shared by every test: shops, accounts and API clients rooted in a shop factory.

Tests run against the real PostgreSQL and Redis (see README, Testing)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.core.cache import cache
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from apps.accounts.models import Account
from apps.accounts.permissions import Perm
from apps.backoffice import services as account_services
from apps.shops.models import Shop

PASSWORD = "correct-horse-battery"


@dataclass
class ShopKit:
    """A shop with its main account and a helper to make sub-accounts and clients."""

    shop: Shop
    main: Account
    token: str

    def sub(self, name: str, perms: set[Perm] | None = None, **fields: object) -> Account:
        return account_services.account_create(
            actor=self.main, name=name, password=PASSWORD, permissions=perms, **fields
        )  # type: ignore[arg-type]

    def client(self, account: Account | None = None) -> APIClient:
        account = account or self.main
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {account_services.token_for(account)}")
        return client


def make_shop(slug: str, name: str | None = None) -> ShopKit:
    signup = account_services.shop_signup(slug=slug, name=name or slug.title(), password=PASSWORD)
    return ShopKit(shop=signup.shop, main=signup.account, token=signup.token)


@pytest.fixture(autouse=True)
def _clear_throttles() -> Iterator[None]:
    """Throttle counters live in the Redis cache: each test starts with none. Only those keys go;
    a flush would also drop the channel layer's and the Celery broker's data."""
    client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    for key in client.scan_iter(match="*throttle_*"):
        client.delete(key)
    yield


@pytest.fixture(autouse=True)
def _no_coalesced_pushes(settings: Settings) -> None:
    """No live board pushes (``monitor.updated``, apps.core.coalesce) from a daemon thread in
    the middle of other tests' streams; the board's own tests turn them on (tests/metrics)."""
    settings.HELPDESK_COALESCE_ENABLED = False


@pytest.fixture
def shop_a(db: None) -> ShopKit:
    return make_shop("shop-a", "Shop A")


@pytest.fixture
def shop_b(db: None) -> ShopKit:
    return make_shop("shop-b", "Shop B")


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def fast_password_hasher(settings: Settings) -> None:
    """MD5 instead of PBKDF2, for tests that create many accounts in this process.

    Not autouse: a server in another process could not check an MD5 hash. Test folders that
    create accounts only in-process turn it on in their own conftest."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# Hypothesis profiles (property tests: apps/routing/tests/test_properties_engine.py and
# apps/conversations/tests/test_properties_services.py). Choose with HYPOTHESIS_PROFILE:
# `default` for every run, `ci` (derandomized: the same examples on every run), `thorough`
# for a long hunt. The database-backed tests scale their own example count from max_examples.
def _hypothesis_profiles() -> None:
    import os

    from hypothesis import HealthCheck
    from hypothesis import settings as hypothesis_settings
    from hypothesis.database import DirectoryBasedExampleDatabase

    common = dict(
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        # Failing examples are replayed first on the next run; kept out of the source tree.
        database=DirectoryBasedExampleDatabase(".pytest_cache/hypothesis"),
    )
    hypothesis_settings.register_profile("default", max_examples=200, **common)
    hypothesis_settings.register_profile(
        "ci", max_examples=200, derandomize=True, print_blob=True, **{**common, "database": None}
    )
    hypothesis_settings.register_profile("thorough", max_examples=3000, **common)
    hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


_hypothesis_profiles()
