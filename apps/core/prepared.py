"""Querysets compiled to SQL once per process, then run with new parameters: :class:`Prepared`.

Django compiles a queryset to SQL on every evaluation, and for a query of a wide model with a
joined row or two and an annotation that costs two to three times the database's own work: about
3 ms of CPU on this project's 2-core machine for the lock query of a buyer's message, against
0.4 ms to run it (issue 8, measured with ``time.thread_time``). On the hottest paths that CPU is
most of a request's, and under the shop's lock it is time every other request waits.

``Prepared`` builds the queryset once, with a placeholder value for each parameter, lets Django
compile it (SQL, parameters, the columns' converters and how rows become model instances), and
remembers where each placeholder landed among the SQL parameters. Each call then only substitutes
the values, runs the SQL on the calling thread's connection and turns the rows into instances the
way Django's ``ModelIterable`` does (``from_db``, ``select_related`` populators, annotations).
The SQL stays Django's: a model change changes it with the next process.

Only for querysets whose SQL does not depend on the values (no ``__in`` lists of varying length,
no ``None`` that becomes ``IS NULL``): each placeholder must appear among the parameters as given,
which the first compilation checks. Parameters are ``int``, ``str`` or (aware) ``datetime``. A
``values_list()`` queryset answers its rows as tuples (:meth:`Prepared.rows`).
"""

from __future__ import annotations

import functools
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar, cast

import psycopg
import psycopg.sql
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.models import Field, Model, QuerySet
from django.db.models.query import (  # type: ignore[attr-defined]  # not in django-stubs
    ModelIterable,
    get_related_populators,
)
from psycopg import pq

M = TypeVar("M", bound=Model)

_INT_BASE = -(2**52)  # placeholders: values no real parameter takes
_STR_PREFIX = "\x00prepared-placeholder-"
_DATETIME_BASE = datetime(1, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    slots: dict[str, list[int]]  # parameter name -> positions among ``params``
    model: type[Model] | None  # None: a values_list() queryset, rows as tuples
    init_list: list[str]
    model_slice: slice
    converters: list[tuple[int, tuple[list[Callable[..., Any]], Any]]]
    populators: list[Any]
    annotations: dict[str, int]
    # datetime parameters the backend passes as it stores them (SQLite: text), not as given
    adapted: frozenset[str] = frozenset()


def _inline_constants(
    sql: str, params: Sequence[Any], slots: dict[str, list[int]]
) -> tuple[str, list[Any], dict[str, list[int]]]:
    """The SQL with its constant parameters (those no placeholder fills: the queryset's own
    values, the same on every run) written out as literals, for PostgreSQL.

    psycopg prepares a statement on its fifth run on a connection, and PostgreSQL then plans it
    once for any parameters (a generic plan) if that plan looks no worse than planning each run
    anew. A constant passed as a parameter hides from that generic plan what the query asks:
    the routing pass's read of the pending requests (``state = 'assistant'``) could not use the
    partial index of pending requests with the state as ``$5``, so PostgreSQL planned it again on
    every run, 1 ms under the shop's lock (issue 8, ``log_min_duration_statement``: the bind).
    Only numbers, booleans and text (enumerations included) are written out; the rest stay
    parameters."""
    pieces = _PLACEHOLDER.split(sql)
    markers = _PLACEHOLDER.findall(sql)
    variable = {i for positions in slots.values() for i in positions}
    out: list[str] = [pieces[0]]
    kept: list[Any] = []
    moved: dict[int, int] = {}
    n = 0
    for marker, piece in zip(markers, pieces[1:], strict=True):
        if marker == "%%":
            out.append(marker)
        else:
            value = params[n]
            if n not in variable and type(value) is not bool and isinstance(value, int | str):
                literal = psycopg.sql.Literal(value).as_string(None)
                out.append(literal.replace("%", "%%"))  # still a statement with parameters
            elif n not in variable and type(value) is bool:
                out.append("true" if value else "false")
            else:
                moved[n] = len(kept)
                kept.append(value)
                out.append(marker)
            n += 1
        out.append(piece)
    assert n == len(params), "Prepared: the SQL's placeholders and parameters disagree"
    return "".join(out), kept, {name: [moved[i] for i in pos] for name, pos in slots.items()}


_PLACEHOLDER = re.compile(r"%s|%%")


class Prepared(Generic[M]):
    """``build(**placeholders)`` -> queryset, compiled on first use; ``types`` names each
    parameter's type (``int`` or ``str``)."""

    def __init__(self, build: Callable[..., QuerySet[M, Any]], **types: type) -> None:
        self._build = build
        self._types = types
        self._compiled: _Compiled | None = None
        self._lock = threading.Lock()

    def _compile(self) -> _Compiled:
        with self._lock:
            if self._compiled is not None:
                return self._compiled
            placeholders: dict[str, Any] = {}
            for n, (name, kind) in enumerate(self._types.items()):
                if kind is int:
                    placeholders[name] = _INT_BASE - n
                elif kind is str:
                    placeholders[name] = f"{_STR_PREFIX}{n}"
                elif kind is datetime:
                    placeholders[name] = _DATETIME_BASE + timedelta(seconds=n)
                else:
                    raise TypeError(f"Prepared parameter {name}: int, str or datetime, not {kind}")
            queryset = self._build(**placeholders)
            compiler = queryset.query.get_compiler(using=queryset.db)
            sql, params = compiler.as_sql()
            slots = {
                name: [i for i, p in enumerate(params) if p == value and type(p) is type(value)]
                for name, value in placeholders.items()
            }
            # SQLite's backend turns a datetime into text before it reaches the driver: find
            # those placeholders in that form, and adapt the real values the same way.
            ops = connections[queryset.db].ops
            adapted = set()
            for name, value in placeholders.items():
                if not slots[name] and isinstance(value, datetime):
                    stored = ops.adapt_datetimefield_value(value)
                    slots[name] = [i for i, p in enumerate(params) if p == stored]
                    adapted.add(name)
            missing = [name for name, found in slots.items() if not found]
            if missing:
                raise ValueError(f"Prepared: parameters not in the SQL as given: {missing}")
            if connections[queryset.db].vendor == "postgresql":
                sql, params, slots = _inline_constants(sql, params, slots)
            klass_info = compiler.klass_info
            select = compiler.select
            columns = [s[0] for s in select[0 : compiler.col_count]]
            converters = list(compiler.get_converters(columns).items())
            if queryset._iterable_class is not ModelIterable:  # values_list(): plain rows
                self._compiled = _Compiled(
                    sql,
                    tuple(params),
                    slots,
                    None,
                    [],
                    slice(0),
                    converters,
                    [],
                    {},
                    frozenset(adapted),
                )
                return self._compiled
            fields = klass_info["select_fields"]
            start, end = fields[0], fields[-1] + 1
            self._compiled = _Compiled(
                sql=sql,
                params=tuple(params),
                slots=slots,
                model=klass_info["model"],
                init_list=[f[0].target.attname for f in select[start:end]],
                model_slice=slice(start, end),
                converters=converters,
                populators=get_related_populators(klass_info, select, queryset.db),
                annotations=dict(compiler.annotation_col_map or {}),
                adapted=frozenset(adapted),
            )
            return self._compiled

    def statement(self, **values: Any) -> Statement:
        """The SQL and parameters for these values, to run with others (``run_together``);
        ``rows_of`` or ``all_of`` turn its rows into what ``rows`` or ``all`` answer."""
        compiled = self._compiled or self._compile()
        params = list(compiled.params)
        for name, positions in compiled.slots.items():
            value = values[name]
            if name in compiled.adapted:
                value = connections[DEFAULT_DB_ALIAS].ops.adapt_datetimefield_value(value)
            for i in positions:
                params[i] = value
        return compiled.sql, params

    def _converted(self, fetched: Sequence[Sequence[Any]]) -> tuple[_Compiled, list[list[Any]]]:
        compiled = self._compiled or self._compile()
        connection = connections[DEFAULT_DB_ALIAS]
        rows = [list(r) for r in fetched]
        for row in rows:
            for pos, (convs, expression) in compiled.converters:
                value = row[pos]
                for convert in convs:
                    value = convert(value, expression, connection)
                row[pos] = value
        return compiled, rows

    def _run(self, values: dict[str, Any]) -> list[tuple[Any, ...]]:
        sql, params = self.statement(**values)
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def rows(self, **values: Any) -> list[tuple[Any, ...]]:
        """The rows of a ``values_list()`` queryset for these parameter values."""
        return self.rows_of(self._run(values))

    def rows_of(self, fetched: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        """``rows()`` from the fetched rows of ``statement()``."""
        compiled, rows = self._converted(fetched)
        assert compiled.model is None, "rows() is for values_list() querysets; all() for models"
        return [tuple(r) for r in rows]

    def all(self, **values: Any) -> list[M]:
        """The rows for these parameter values, as model instances."""
        return self.all_of(self._run(values))

    def all_of(self, fetched: Sequence[Sequence[Any]]) -> list[M]:
        """``all()`` from the fetched rows of ``statement()``."""
        compiled, rows = self._converted(fetched)
        assert compiled.model is not None, "all() is for model querysets; rows() for values_list()"
        objects: list[M] = []
        for row in rows:
            obj = compiled.model.from_db(
                DEFAULT_DB_ALIAS, compiled.init_list, row[compiled.model_slice]
            )
            for populator in compiled.populators:
                populator.populate(row, obj)
            for attr, pos in compiled.annotations.items():
                setattr(obj, attr, row[pos])
            objects.append(obj)  # type: ignore[arg-type]
        return objects

    def first(self, **values: Any) -> M | None:
        """The first row (the queryset's own order and limit apply), or None."""
        rows = self.all(**values)
        return rows[0] if rows else None

    def first_of(self, fetched: Sequence[Sequence[Any]]) -> M | None:
        """``first()`` from the fetched rows of ``statement()``."""
        rows = self.all_of(fetched)
        return rows[0] if rows else None


# A statement and its parameters, as a cursor's ``execute`` takes them.
Statement = tuple[str, Sequence[Any]]


def run_together(statements: Sequence[Statement]) -> list[list[tuple[Any, ...]]]:
    """Run ``statements`` in order on this thread's connection, in one round trip (a psycopg
    pipeline; one after the other where the database has none): the rows of each (each must
    answer rows, as a SELECT or a RETURNING does). For reads that do not depend on each
    other's answers, such as the shop's lock and the snapshot a routing decision needs (each
    statement still sees what the ones before it did: PostgreSQL runs them in order, in the
    same transaction). Queued ``deferred_writes`` go first, in the same round trip."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        rows = []
        for sql, params in statements:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                rows.append(cursor.fetchall())
        return rows
    writes = _deferral.writes or []
    if _deferral.writes:
        _deferral.writes = []
    return _together(connection, writes, statements, commit=False)


def _together(
    connection: Any, writes: list[Write], statements: Sequence[Statement], *, commit: bool
) -> list[list[tuple[Any, ...]]]:
    """``writes``, then ``statements`` (through Django's cursors), then COMMIT if ``commit``,
    in one pipeline (``_send``): the rows of each statement."""
    cursors = [connection.cursor() for _statement in statements]
    try:

        def execute_all() -> None:
            for cursor, (sql, params) in zip(cursors, statements, strict=True):
                cursor.execute(sql, params)
            if commit:  # Django's commit then finds the transaction ended: nothing to do
                with connection.connection.cursor() as raw:
                    raw.execute("COMMIT", prepare=False)

        _send(connection, writes, execute_all)
        return [cursor.fetchall() for cursor in cursors]
    finally:
        for cursor in cursors:
            cursor.close()


# --- Writes ------------------------------------------------------------------------------------
# The same idea for the two writes of every message and assignment: Django builds an INSERT or
# UPDATE through its query compiler on each ``save()``, which costs more CPU than the statement;
# here its SQL is built once per model (and set of fields) from the model's own metadata, and the
# values go through the fields' own ``pre_save`` and ``get_db_prep_save``, as ``save()`` does.
# No model signals are sent (the product uses none for these models: STYLE 7).


@functools.cache
def _insert_sql(model: type[Model], keyed: bool = False) -> tuple[str, tuple[Field[Any, Any], ...]]:
    """``INSERT ... RETURNING`` the new key; ``keyed``: the object's key is taken already
    (``deferred_writes``), it is one of the values and nothing is returned."""
    connection = connections[DEFAULT_DB_ALIAS]
    quote = connection.ops.quote_name
    meta = model._meta
    assert meta.pk is not None
    fields = tuple(f for f in meta.concrete_fields if keyed or f is not meta.auto_field)
    # Identifiers from the model's metadata, quoted; values are parameters.
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
        quote(meta.db_table),
        ", ".join(quote(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    return (sql if keyed else f"{sql} RETURNING {quote(meta.pk.column)}"), fields


@functools.cache
def _update_sql(
    model: type[Model], names: tuple[str, ...]
) -> tuple[str, tuple[Field[Any, Any], ...]]:
    connection = connections[DEFAULT_DB_ALIAS]
    quote = connection.ops.quote_name
    meta = model._meta
    fields: tuple[Field[Any, Any], ...] = tuple(
        cast("Field[Any, Any]", meta.get_field(name)) for name in names
    )
    assert meta.pk is not None
    sql = "UPDATE {} SET {} WHERE {} = %s".format(  # noqa: S608 (as above)
        quote(meta.db_table),
        ", ".join(f"{quote(f.column)} = %s" for f in fields),
        quote(meta.pk.column),
    )
    return sql, fields


# Fields whose stored value is the attribute itself when it is of a plain type: what their
# pre_save and get_db_prep_save would answer, without the half dozen calls per field that made
# a conversation's save (40 columns) a tenth of a routing pass's CPU (issue 8, cProfile).
_NUMBERS = frozenset(
    {
        models.AutoField,
        models.BigAutoField,
        models.SmallAutoField,
        models.IntegerField,
        models.BigIntegerField,
        models.SmallIntegerField,
        models.PositiveIntegerField,
        models.PositiveBigIntegerField,
        models.PositiveSmallIntegerField,
    }
)
_TEXTS = frozenset({models.CharField, models.TextField})


@functools.cache
def _plain(field: Field[Any, Any]) -> type | None:
    """The type whose values ``field`` stores as they are (None: go through the field)."""
    kind = type(field)
    if kind in (models.ForeignKey, models.OneToOneField):
        return _plain(field.target_field)  # type: ignore[attr-defined]
    if kind in _NUMBERS:
        return int
    if kind is models.BooleanField:
        return bool
    if kind in _TEXTS:
        return str
    if kind is models.DateTimeField and not (field.auto_now or field.auto_now_add):  # type: ignore[attr-defined]
        return datetime
    return None


def _value(obj: Model, field: Field[Any, Any], add: bool, connection: Any) -> Any:
    plain = _plain(field)
    if plain is not None:
        value = getattr(obj, field.attname)
        if value is None and field.null:
            return None
        if plain is str:
            if isinstance(value, str):  # a TextChoices member too, as CharField.to_python keeps
                return value
        elif type(value) is plain and (plain is not datetime or value.tzinfo is not None):  # type: ignore[attr-defined]
            return value
    value = field.pre_save(obj, add)
    assert not hasattr(value, "resolve_expression"), f"{field.name}: expressions need save()"
    return field.get_db_prep_save(value, connection=connection)


def _insert_params(obj: Model, fields: Sequence[Field[Any, Any]], connection: Any) -> list[Any]:
    return [_value(obj, f, True, connection) for f in fields]


def _update_params(obj: Model, fields: Sequence[Field[Any, Any]], connection: Any) -> list[Any]:
    return [*(_value(obj, f, False, connection) for f in fields), obj.pk]  # SET ..., WHERE pk


def _mark_stored(obj: Model, pk: Any) -> None:
    """``obj`` is stored under ``pk``, as ``save()`` leaves it."""
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = DEFAULT_DB_ALIAS


def _stored(obj: M, sql: str, params: list[Any], connection: Any) -> M:
    """Run an INSERT ... RETURNING the key, and mark ``obj`` stored as ``save()`` does."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    assert row is not None
    _mark_stored(obj, row[0])
    return obj


def insert(obj: M) -> M:
    """Store a new ``obj`` (its model has an auto primary key): ``obj.save()`` for the hot paths,
    one statement, the new id set on ``obj``."""
    sql, fields = _insert_sql(type(obj))
    connection = connections[DEFAULT_DB_ALIAS]
    return _stored(obj, sql, _insert_params(obj, fields, connection), connection)


# A data-modifying statement of the caller's (fixed SQL, no RETURNING) and its parameters, run
# in the same round trip as a save: a routing decision's writes to the agents' rows ride with
# the conversation's (``with_writes`` below; issue 8: one round trip less per assignment under
# the shop's lock, where each one is also a wait for a processor).
Write = tuple[str, Sequence[Any]]


def _run_alone(writes: Sequence[Write], connection: Any) -> None:
    """Where there is no data-modifying WITH (the embedded SQLite mode): one statement each."""
    with connection.cursor() as cursor:
        for sql, params in writes:
            cursor.execute(sql, list(params))


def _prefixed(writes: Sequence[Write], ctes: str) -> tuple[str, list[Any]]:
    """``writes`` as the first common table expressions of a WITH, and their parameters."""
    parts = [f"w{n} AS ({sql})" for n, (sql, _params) in enumerate(writes)]
    params = [p for _sql, ps in writes for p in ps]
    return "WITH " + ", ".join([*parts, ctes] if ctes else parts), params


# --- Writes that ride with the next statement ----------------------------------------------------
# Under the shop's lock every round trip is also a wait for a processor (the burst keeps both
# cores busy): 3 to 10 ms on the client's clock for statements PostgreSQL runs in 0.1 to 0.3 ms
# (issue 8). A routing pass wrote each decided conversation in a statement of its own, so its
# length grew by a round trip per buyer. Inside ``deferred_writes`` the hot writes below
# (``save_fields``, ``insert_and_save``) are queued instead and sent, in order, in one psycopg
# pipeline with the next statement the connection runs (through Django's ``execute_wrapper``, so
# any read sees them, as it would have), or when the block ends: a pass's writes cost one round
# trip whatever its number of buyers. Inserts take their keys from ids reserved from the table's
# sequence in one statement (``_reserved_id``), since nobody waits for a RETURNING.


class _Deferral(threading.local):
    def __init__(self) -> None:
        self.writes: list[Write] | None = None  # None: not deferring on this thread
        self.ids: dict[type[Model], list[int]] = {}
        self.last: list[tuple[Statement, Callable[[list[tuple[Any, ...]]], None]]] = []


_deferral = _Deferral()


@contextmanager
def deferred_writes(*, commit: bool = False) -> Iterator[None]:
    """Queue this thread's hot writes inside the block and send them with the next statement
    (see above). Inside a transaction. ``commit``: the block is the whole of the
    ``transaction.atomic()`` around it (nothing runs in that transaction after the block), and
    if that is the outermost, its last round trip also commits: the writes, the ``last_read``
    statements, then COMMIT; Django's own commit then finds nothing left to do and runs the
    on-commit hooks as usual. A block that raises drops its queued writes and marks the
    transaction for rollback, so that nothing is half-written. Not nested (an inner block is
    part of the outer one); a no-op where the database has no pipeline (SQLite)."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql" or _deferral.writes is not None:
        yield
        return
    assert connection.in_atomic_block, "deferred_writes() needs a transaction"
    # Only the outermost atomic block commits (inside another, as in a test's, it is a savepoint).
    commit = commit and len(connection.atomic_blocks) == 1
    _deferral.writes, _deferral.ids = [], {}
    _deferral.last = []
    try:
        with connection.execute_wrapper(_ride_along):
            try:
                yield
            except BaseException:
                if _deferral.writes or _deferral.last:
                    transaction.set_rollback(True)
                raise
            writes, _deferral.writes = _deferral.writes, []
            last, _deferral.last = _deferral.last, []
            commit = commit and not connection.needs_rollback
            if writes or last or commit:
                answers = _together(connection, writes, [st for st, _then in last], commit=commit)
                for (_statement, then), rows in zip(last, answers, strict=True):
                    then(rows)
    finally:
        _deferral.writes, _deferral.ids, _deferral.last = None, {}, []


def last_read(statement: Statement, then: Callable[[list[tuple[Any, ...]]], None]) -> None:
    """Run ``statement`` (it answers rows) and hand them to ``then``: at once, or, inside
    ``deferred_writes``, as the block's last statements, in its last round trip (with its
    COMMIT when it commits). For statements whose answer nothing in the block waits for, such as
    storing the events of a routing pass, which are published after commit."""
    if _deferral.writes is None:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute(*statement)
            then(cursor.fetchall())
        return
    _deferral.last.append((statement, then))


def _ride_along(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    """Django's execute wrapper inside ``deferred_writes``: the queued writes go first, in the
    same pipeline (one round trip), then the statement itself."""
    writes = _deferral.writes
    if not writes:
        return execute(sql, params, many, context)
    _deferral.writes = []
    return _send(context["connection"], writes, lambda: execute(sql, params, many, context))


def _send(connection: Any, writes: list[Write], then: Callable[[], Any] | None) -> Any:
    """``writes``, then ``then()`` (a statement through Django's cursor), in one pipeline: their
    results are read when it ends. Logged as Django logs queries, so query counts see them.
    The first statements of a transaction also carry its BEGIN (``_begin_with``)."""
    started = time.perf_counter()
    raw = connection.connection
    result = None
    logged = len(connection.queries_log)
    with (
        connection.wrap_database_errors,
        raw.cursor() as cursor,
        raw.pipeline(),
        _begin_with(connection, cursor),
    ):
        for sql, params in writes:
            cursor.execute(sql, params)
        if then is not None:
            result = then()
    if connection.queries_logged:
        took = f"{time.perf_counter() - started:.3f}"
        log = connection.queries_log
        for n, (sql, _params) in enumerate(writes):  # before then()'s, as they were sent
            if len(log) == log.maxlen:
                log.append({"sql": sql, "time": took})
            else:
                log.insert(min(logged + n, len(log)), {"sql": sql, "time": took})
    return result


@contextmanager
def _begin_with(connection: Any, cursor: Any) -> Iterator[None]:
    """Inside a pipeline: when Django's transaction has sent nothing yet, its BEGIN goes in the
    pipeline, with the statements the block sends. psycopg sends a transaction's BEGIN in a
    round trip of its own, even in a pipeline (it syncs after it, ``_start_query``); a routing
    pass's first round trip or a new conversation's only one would wait for it first (issue 8:
    under a burst each round trip is also a wait for a processor). So the block sends it
    itself, with psycopg's autocommit flag raised while the statements are queued, so that
    psycopg does not send its own; the transaction is then open, as psycopg would have left it.
    (psycopg's flag is private: ``tests/core/test_deferred_writes.py`` pins this behaviour.)"""
    raw = connection.connection
    if not (
        connection.in_atomic_block
        and not raw.autocommit
        and raw.pgconn.transaction_status == pq.TransactionStatus.IDLE
    ):
        yield
        return
    raw._autocommit = True
    try:
        cursor.execute(_begin_statement(raw), prepare=False)
        yield
    finally:
        raw._autocommit = False


def _begin_statement(raw: Any) -> bytes:
    """The BEGIN psycopg would send, with the connection's isolation level, if any."""
    parts = [b"BEGIN"]
    if raw.isolation_level is not None:
        level = psycopg.IsolationLevel(raw.isolation_level).name.replace("_", " ")
        parts += [b"ISOLATION LEVEL", level.encode()]
    if raw.read_only is not None:
        parts.append(b"READ ONLY" if raw.read_only else b"READ WRITE")
    if raw.deferrable is not None:
        parts.append(b"DEFERRABLE" if raw.deferrable else b"NOT DEFERRABLE")
    return b" ".join(parts)


def _deferred(sql: str, params: list[Any]) -> bool:
    """Queue the write if this thread defers its writes (PostgreSQL only)."""
    if _deferral.writes is None:
        return False
    _deferral.writes.append((sql, params))
    return True


def reservation(model: type[Model], count: int) -> Statement:
    """The statement that reserves ``count`` ids of ``model``'s sequence for the inserts of a
    ``deferred_writes`` block: run it with others (``run_together``), then ``keep_reserved``."""
    meta = model._meta
    assert meta.pk is not None
    return (
        "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
        [meta.db_table, meta.pk.column, count],
    )


def keep_reserved(model: type[Model], rows: Sequence[Sequence[Any]]) -> None:
    """The ids ``reservation`` answered, for this block's next inserts of ``model``."""
    if _deferral.writes is not None:
        _deferral.ids.setdefault(model, []).extend(sorted((r[0] for r in rows), reverse=True))


class _ProcessReserve:
    """Ids of each model's sequence reserved by this process, for the inserts of blocks that
    reserved none themselves (a new conversation and its greeting): a block then needs no round
    trip of its own for them, and its writes, events and COMMIT go in one (with its BEGIN,
    ``_begin_with``). Taken ``_RESERVE_BLOCK`` at a time; ids older than ``_RESERVE_FRESH``
    seconds are dropped, so that ids keep about the order of creation across processes (lists
    sort by time, then id). A forked child starts with none of its parent's."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: dict[type[Model], list[int]] = {}
        self.taken_at: dict[type[Model], float] = {}

    def take(self, model: type[Model]) -> int | None:
        with self.lock:
            ids = self.ids.get(model)
            if ids and time.monotonic() - self.taken_at[model] < _RESERVE_FRESH:
                return ids.pop()
            return None

    def keep(self, model: type[Model], rows: Sequence[Sequence[Any]]) -> int:
        fresh = sorted((int(r[0]) for r in rows), reverse=True)
        with self.lock:
            self.ids[model] = fresh
            self.taken_at[model] = time.monotonic()
            return fresh.pop()

    def clear(self) -> None:
        self.lock = threading.Lock()
        self.ids, self.taken_at = {}, {}


_RESERVE_BLOCK = 32
_RESERVE_FRESH = 1.0
_process_reserve = _ProcessReserve()
os.register_at_fork(after_in_child=_process_reserve.clear)


def _reserved_id(model: type[Model]) -> Any:
    """The next of the ids reserved for ``model``'s inserts in this ``deferred_writes`` block,
    else of this process's reserve (``_ProcessReserve``), which takes more (one statement, with
    the queued writes) when it has none left. Ids reserved and not used are gaps in the
    sequence, as rolled-back inserts leave."""
    return _reserved_ids(model)[0]


def _reserved_ids(*models: type[Model]) -> list[Any]:
    """``_reserved_id`` of each of ``models``, the process's reserve refilled for all of them
    that need it in one statement each, in one round trip."""
    taken: list[Any] = []
    for model in models:
        ids = _deferral.ids.get(model)
        taken.append(ids.pop() if ids else _process_reserve.take(model))
    missing = [model for model, pk in zip(models, taken, strict=True) if pk is None]
    if missing:
        fetched = iter(run_together([reservation(model, _RESERVE_BLOCK) for model in missing]))
        taken = [
            _process_reserve.keep(model, next(fetched)) if pk is None else pk
            for model, pk in zip(models, taken, strict=True)
        ]
    return taken


def save_fields(obj: Model, names: Sequence[str], with_writes: Sequence[Write] = ()) -> None:
    """``obj.save(update_fields=names)`` for the hot paths: one UPDATE by primary key, with
    ``with_writes`` in the same statement; queued inside ``deferred_writes``."""
    sql, fields = _update_sql(type(obj), tuple(dict.fromkeys(names)))
    connection = connections[DEFAULT_DB_ALIAS]
    params = _update_params(obj, fields, connection)
    if with_writes:
        if connection.vendor != "postgresql":
            _run_alone(with_writes, connection)
        else:
            prefix, before = _prefixed(with_writes, "")
            sql, params = f"{prefix} {sql}", before + params
    if _deferred(sql, params):
        return
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@functools.cache
def _insert_and_update_sql(
    new: type[Model], existing: type[Model], names: tuple[str, ...], keyed: bool
) -> tuple[str, str, tuple[Field[Any, Any], ...], tuple[Field[Any, Any], ...]]:
    insert_sql, insert_fields = _insert_sql(new, keyed)
    update_sql, update_fields = _update_sql(existing, names)
    # PostgreSQL runs a data-modifying WITH once and to completion, whatever the main statement.
    return f"updated AS ({update_sql})", insert_sql, update_fields, insert_fields


def insert_and_save(
    new: M, existing: Model, names: Sequence[str], with_writes: Sequence[Write] = ()
) -> M:
    """``insert(new)`` and ``save_fields(existing, names)`` in one statement (one round trip):
    a message and its conversation, with ``with_writes``; queued inside ``deferred_writes``,
    ``new`` taking a reserved id. One statement each where the database has no data-modifying
    WITH (the embedded SQLite mode)."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        _run_alone(with_writes, connection)
        insert(new)
        save_fields(existing, names)
        return new
    keyed = _deferral.writes is not None
    if keyed:
        new.pk = _reserved_id(type(new))
    update_cte, insert_sql, update_fields, insert_fields = _insert_and_update_sql(
        type(new), type(existing), tuple(dict.fromkeys(names)), keyed
    )
    prefix, params = _prefixed(with_writes, update_cte)
    params += _update_params(existing, update_fields, connection)
    params += _insert_params(new, insert_fields, connection)
    if keyed:  # queued: nobody waits for the RETURNING, the id is reserved
        _deferred(f"{prefix} {insert_sql}", params)
        _mark_stored(new, new.pk)
        return new
    return _stored(new, f"{prefix} {insert_sql}", params, connection)


@functools.cache
def _insert_with_parent_sql(
    parent: type[Model], child: type[Model], link: str, keyed: bool = False
) -> tuple[str, tuple[Field[Any, Any], ...], tuple[Field[Any, Any], ...]]:
    """The statement of ``insert_with_parent``; ``keyed``: both keys are taken already (the
    statement then answers nothing)."""
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    parent_key = parent._meta.pk.column  # type: ignore[union-attr]
    child_key = child._meta.pk.column  # type: ignore[union-attr]
    parent_sql, parent_fields = _insert_sql(parent, keyed)
    if keyed:  # the child's SELECT reads the parent's key from the WITH
        parent_sql += f" RETURNING {quote(parent_key)}"
    _child_sql, child_fields = _insert_sql(child, keyed)
    link_column = cast("Field[Any, Any]", child._meta.get_field(link)).column
    values = ", ".join(
        f"parent.{quote(parent_key)}" if f.column == link_column else "%s" for f in child_fields
    )
    returning = "" if keyed else f" RETURNING {quote(child_key)}, {quote(link_column)}"
    # Identifiers from the models' metadata, quoted; values are parameters.
    sql = "WITH parent AS ({}) INSERT INTO {} ({}) SELECT {} FROM parent{}".format(  # noqa: S608
        parent_sql,
        quote(child._meta.db_table),
        ", ".join(quote(f.column) for f in child_fields),
        values,
        returning,
    )
    rest = tuple(f for f in child_fields if f.column != link_column)
    return sql, parent_fields, rest


def insert_with_parent(parent: Model, child: M, link: str) -> M:
    """``insert(parent)``, then ``insert(child)`` whose foreign key ``link`` points at it, in
    one statement (one round trip): a new conversation and its first message. Both get their
    ids. Two statements where the database has no data-modifying WITH (SQLite)."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        insert(parent)
        setattr(child, link, parent)
        return insert(child)
    keyed = _deferral.writes is not None
    if keyed:  # queued, with reserved ids: nobody waits for a RETURNING (one round trip less)
        parent.pk, child.pk = _reserved_ids(type(parent), type(child))
    sql, parent_fields, child_fields = _insert_with_parent_sql(
        type(parent), type(child), link, keyed
    )
    params = _insert_params(parent, parent_fields, connection)
    params += _insert_params(child, child_fields, connection)
    if keyed:
        _deferred(sql, params)
        _mark_stored(parent, parent.pk)
        _mark_stored(child, child.pk)
        setattr(child, link, parent)
        return child
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    assert row is not None
    _mark_stored(parent, row[1])
    _mark_stored(child, row[0])
    setattr(child, link, parent)  # the relation now carries the parent's id too
    return child
