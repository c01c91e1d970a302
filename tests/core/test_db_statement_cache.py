"""psycopg's conversion of a statement's placeholders is cached for the long hot statements too
(apps.core.db.cache_long_statements; issue 8): the routing pass's read of the pending requests
(over 4 KB) and an assignment's write (over 50 parameters) were converted again on every run."""

from __future__ import annotations

import pytest
from django.db import connection
from psycopg import _queries

from apps.core.db import CACHED_STATEMENT_LENGTH, CACHED_STATEMENT_PARAMS

pytestmark = pytest.mark.django_db


def test_the_limits_are_raised_when_django_starts() -> None:
    assert _queries.MAX_CACHED_STATEMENT_LENGTH >= CACHED_STATEMENT_LENGTH
    assert _queries.MAX_CACHED_STATEMENT_PARAMS >= CACHED_STATEMENT_PARAMS


def test_a_statement_of_sixty_parameters_is_converted_once() -> None:
    # sixty placeholders and a long text: both above psycopg's own limits (50, 4 KB)
    sql = "SELECT " + ", ".join(["%s::int"] * 60) + " -- " + "x" * 5000
    params = list(range(60))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        before = _queries._query2pg.cache_info()
        cursor.execute(sql, params)
        after = _queries._query2pg.cache_info()
        assert cursor.fetchone() == tuple(range(60))
    assert after.hits == before.hits + 1 and after.misses == before.misses
