"""Django's connections read ``timestamptz`` with psycopg's C loader (apps.core.db.
use_c_timestamp_loader; issue 8): the same aware datetimes as Django's own loader, in Django's
zone whatever the session's, the same errors, about five times less CPU per value."""

from __future__ import annotations

import datetime

import pytest
from django.db import DataError, connection, transaction
from django.db.backends.postgresql.psycopg_any import register_tzloader
from django.utils import timezone

from apps.conversations.models import Conversation
from apps.shopdata.models import Buyer
from conftest import ShopKit

pytestmark = pytest.mark.django_db


def _loader() -> type:
    with connection.cursor() as cursor:
        return cursor.cursor.adapters.get_loader(1184, 0)  # timestamptz, text


def test_the_c_loader_is_in_use_with_djangos_zone() -> None:
    loader = _loader()
    assert loader.__name__ == "CTimestamptzLoader"
    assert loader.timezone is connection.timezone  # so Django keeps it for every cursor


def test_values_as_djangos_loader_reads_them() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT '2026-11-30 23:59:59.123456+08'::timestamptz, "
            "'0001-01-01 00:00:00+00'::timestamptz, NULL::timestamptz"
        )
        late, first, nothing = cursor.fetchone()
    assert late == datetime.datetime(2026, 11, 30, 15, 59, 59, 123456, tzinfo=datetime.UTC)
    assert late.tzinfo is datetime.UTC and first.year == 1 and nothing is None


def _read_both(sql: str) -> tuple[object, object]:
    """``sql``'s one value read by the loader in use and by Django's own."""
    with connection.cursor() as cursor:
        cursor.execute(sql)
        (ours,) = cursor.fetchone()
        register_tzloader(connection.timezone, cursor.cursor)  # Django's, on this cursor only
        cursor.execute(sql)
        (djangos,) = cursor.fetchone()
    return ours, djangos


@pytest.mark.parametrize(
    "literal", ["2026-11-30 23:59:59.123456+08", "1999-12-31 16:00:00-05:30", "0001-01-01 00:00Z"]
)
def test_the_same_as_djangos_loader(literal: str) -> None:
    ours, djangos = _read_both(f"SELECT '{literal}'::timestamptz")
    assert ours == djangos and ours.tzinfo is djangos.tzinfo is datetime.UTC  # type: ignore[attr-defined]


def test_another_session_zone_reads_as_djangos_loader_does() -> None:
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL TimeZone = 'Asia/Shanghai'")
        ours, djangos = _read_both("SELECT '2026-11-30 08:00:00+00'::timestamptz")
    assert ours == djangos and ours.tzinfo is datetime.UTC  # type: ignore[attr-defined]


def test_infinity_is_refused_as_before() -> None:
    with pytest.raises(DataError), connection.cursor() as cursor:
        cursor.execute("SELECT '-infinity'::timestamptz")
        cursor.fetchone()


def test_the_orm_round_trips_a_conversation_time(shop_a: ShopKit) -> None:
    buyer = Buyer.objects.create(shop=shop_a.shop, external_id="b-1")
    at = timezone.now().replace(microsecond=654321)
    conv = Conversation.objects.create(shop=shop_a.shop, buyer=buyer, human_requested_at=at)
    assert Conversation.objects.get(pk=conv.pk).human_requested_at == at
