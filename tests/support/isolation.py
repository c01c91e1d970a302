"""Automatic tenant-isolation check (SPEC A1): another shop's object answers 404 and stays as it is.

:func:`object_routes` walks every URL pattern under ``/api/v1/`` whose path carries an object
reference (any path converter or named group: ``pk``, ``id``, ``external_id``, ``buyer_id``...).
:func:`probe` calls one such route, with one method, as shop A with an object of shop B, and
returns what went wrong (an empty list when the route holds).

What a view declares (class attributes; on a function view, attributes of the function):

* ``tenant_model``: the shop-owned model the route's id points to (falls back to
  ``queryset.model``). Required: a route without one fails the check.
* ``tenant_lookup``: ``"id"`` (default): a foreign id answers 404, never 403, never data.
  ``"upsert"``: the id is an external id upserted per shop (``PUT /buyers/{external_id}/``):
  a PUT may create the caller's own object, but shop B's object with that id must not change
  and the answer must not carry its data; the route's other methods still answer 404.
* ``tenant_lookup_fields``: ``{url_kwarg: attribute}`` when a kwarg is neither the view's
  ``lookup_field`` nor ``pk``/``id`` nor an attribute of the model with the same name; the
  attribute may be dotted (``{"buyer_id": "buyer.external_id"}``).
* ``tenant_probe_body``: a valid request body, so that the answer comes from the tenant check
  and not from validation (default :data:`DEFAULT_PROBE_BODY`).

An object of shop B comes from the factory registered for the model with
:func:`register_tenant_factory` (see :mod:`tests.support.tenant_factories`).
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from django.db.models import Model
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404
from django.utils.regex_helper import normalize
from rest_framework.test import APIClient

from apps.shops.models import Shop

API_PREFIX = "api/v1/"
PROBED_METHODS = ("GET", "PUT", "PATCH", "POST", "DELETE")
LOOKUPS = ("id", "upsert")
# Looks valid to every endpoint that exists so far (a display name, a strong password).
DEFAULT_PROBE_BODY: dict[str, Any] = {
    "display_name": "x",
    "password": "a-Valid-passw0rd!",
    "name": "isolation-probe",
}
# Format-suffix duplicates (``.json``) of routes that are walked anyway.
IGNORED_KWARGS = frozenset({"format"})

TenantFactory = Callable[[Shop], Model | Sequence[Model]]
_FACTORIES: dict[type[Model], TenantFactory] = {}
_FACTORY_MODULE = "tests.support.tenant_factories"


def register_tenant_factory(model: type[Model]) -> Callable[[TenantFactory], TenantFactory]:
    """Decorator: ``@register_tenant_factory(Group)`` on ``def make(shop) -> Group``.

    A factory creates, in the given shop, one object (or several, e.g. a sub-account and the main
    account) as the shop's own code would, related rows included."""

    def decorate(factory: TenantFactory) -> TenantFactory:
        _FACTORIES[model] = factory
        return factory

    return decorate


def tenant_factory(model: type[Model]) -> TenantFactory | None:
    import importlib

    importlib.import_module(_FACTORY_MODULE)  # registers the project's factories
    return _FACTORIES.get(model)


@dataclass(frozen=True)
class ObjectRoute:
    """One URL pattern whose path names an object."""

    route: str  # readable, e.g. "api/v1/accounts/{pk}/password/"
    levels: tuple[str, ...]  # the regex of each nesting level, outermost first
    kwargs: tuple[str, ...]
    callback: Callable[..., Any] = field(compare=False)
    view: Any = field(compare=False)  # the view class, or the function for a function view
    methods: tuple[str, ...]
    urlconf: str | None = None

    def __str__(self) -> str:
        return self.route

    @property
    def tenant_model(self) -> type[Model] | None:
        model = getattr(self.view, "tenant_model", None)
        if model is None:
            queryset = getattr(self.view, "queryset", None)
            model = getattr(queryset, "model", None)
        return model

    @property
    def tenant_lookup(self) -> str:
        return str(getattr(self.view, "tenant_lookup", "id"))

    def url(self, values: dict[str, object]) -> str:
        parts: list[str] = []
        for regex in self.levels:
            for template, params in normalize(regex):
                if set(params) <= set(values):
                    parts.append(template % {p: quote(str(values[p]), safe="") for p in params})
                    break
            else:
                raise ValueError(f"cannot build {self.route} from {sorted(values)}")
        return "/" + "".join(parts)

    def lookup_attribute(self, kwarg: str, obj: Model) -> str | None:
        """Which attribute of the object goes into ``kwarg`` of the path."""
        declared: dict[str, str] = getattr(self.view, "tenant_lookup_fields", None) or {}
        if kwarg in declared:
            return declared[kwarg]
        lookup_field = getattr(self.view, "lookup_field", None)
        lookup_kwarg = getattr(self.view, "lookup_url_kwarg", None) or lookup_field
        if lookup_field and kwarg == lookup_kwarg:
            return str(lookup_field)
        if kwarg in ("pk", "id"):
            return "pk"
        return kwarg if hasattr(obj, kwarg) else None


def _readable(regex: str) -> str:
    template, params = normalize(regex)[0]
    return template % {p: "{" + p + "}" for p in params}


def _methods(callback: Callable[..., Any], view: Any) -> tuple[str, ...]:
    actions: dict[str, str] | None = getattr(callback, "actions", None)
    if actions:  # a DRF viewset route: the router's method -> action map, less disallowed ones
        allowed = getattr(view, "http_method_names", [m.lower() for m in PROBED_METHODS])
        return tuple(m for m in PROBED_METHODS if m.lower() in actions and m.lower() in allowed)
    if isinstance(view, type):
        names = getattr(view, "http_method_names", [])
        return tuple(m for m in PROBED_METHODS if m.lower() in names and hasattr(view, m.lower()))
    return PROBED_METHODS  # a function view: try them all, 405 is then an acceptable answer


def _walk(
    patterns: Sequence[URLPattern | URLResolver], levels: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], URLPattern]]:
    for pattern in patterns:
        regex = pattern.pattern.regex.pattern
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, (*levels, regex))
        else:
            yield (*levels, regex), pattern


def object_routes(urlconf: str | None = None, prefix: str = API_PREFIX) -> list[ObjectRoute]:
    """Every route under ``prefix`` whose path carries an object reference."""
    routes: list[ObjectRoute] = []
    for levels, pattern in _walk(get_resolver(urlconf).url_patterns, ()):
        route = "".join(_readable(level) for level in levels)
        kwargs = tuple(
            name
            for level in levels
            for name in normalize(level)[0][1]  # the named groups of that level
        )
        if not route.startswith(prefix) or not kwargs or IGNORED_KWARGS & set(kwargs):
            continue
        callback = pattern.callback
        view = getattr(callback, "cls", None) or getattr(callback, "view_class", None) or callback
        if getattr(view, "tenant_public", False):
            continue  # public by design, for anyone: e.g. a shop's widget look, by its slug
        routes.append(
            ObjectRoute(
                route=route,
                levels=levels,
                kwargs=kwargs,
                callback=callback,
                view=view,
                methods=_methods(callback, view),
                urlconf=urlconf,
            )
        )
    return routes


def _rows(model: type[Model], **lookup: object) -> list[dict[str, Any]]:
    return list(model._default_manager.filter(**lookup).order_by("pk").values())


def snapshot(obj: Model) -> dict[str, list[dict[str, Any]]]:
    """The object's row and every row that points to it (permissions, tokens, states...)."""
    model = type(obj)
    state: dict[str, list[dict[str, Any]]] = {model._meta.label: _rows(model, pk=obj.pk)}
    for relation in model._meta.related_objects:
        related = relation.related_model
        if not isinstance(related, type):  # pragma: no cover - lazy string references
            continue
        name = relation.field.name
        state[f"{related._meta.label}.{name}"] = _rows(related, **{name: obj.pk})
    for m2m in model._meta.many_to_many:
        ids = getattr(obj, m2m.name).order_by("pk").values_list("pk", flat=True)
        state[f"{model._meta.label}.{m2m.name}"] = [{"pk": pk} for pk in ids]
    return state


def _distinctive_strings(obj: Model) -> set[str]:
    """Values of the object that should never reach another shop (long, free-form strings)."""
    values: set[str] = set()
    for model_field in obj._meta.concrete_fields:
        if model_field.choices:
            continue
        value = getattr(obj, model_field.attname)
        if isinstance(value, str) and len(value) >= 8:
            values.add(value)
    return values


def _leaks(obj: Model, content: bytes, sent: str) -> list[str]:
    text = content.decode("utf-8", "replace")
    try:
        decoded = json.dumps(json.loads(text), ensure_ascii=False) if text else ""
    except ValueError:
        decoded = text
    found = [v for v in _distinctive_strings(obj) if v not in sent and v in (text + decoded)]
    return [f"the answer carries the other shop's {v!r}" for v in sorted(found)]


def _objects(made: Model | Sequence[Model]) -> list[Model]:
    return [made] if isinstance(made, Model) else list(made)


def probe(route: ObjectRoute, method: str, *, client: APIClient, other_shop: Shop) -> list[str]:
    """Call ``route`` with ``method`` through ``client`` (shop A) on objects of ``other_shop``.

    Returns the problems found, each a sentence naming the route, the method and the fix."""
    where = f"{method} /{route.route} ({getattr(route.view, '__qualname__', route.view)})"
    model = route.tenant_model
    if model is None:
        return [
            f"{where}: the view declares no tenant model. Set `tenant_model = <Model>` on it "
            "(the shop-owned model its id points to) so the isolation check can test it."
        ]
    if route.tenant_lookup not in LOOKUPS:
        return [f"{where}: tenant_lookup must be one of {LOOKUPS}, not {route.tenant_lookup!r}."]
    factory = tenant_factory(model)
    if factory is None:
        return [
            f"{where}: no tenant factory for {model._meta.label}. Register one in "
            f"{_FACTORY_MODULE} with @register_tenant_factory({model.__name__})."
        ]
    problems: list[str] = []
    body = getattr(route.view, "tenant_probe_body", None) or DEFAULT_PROBE_BODY
    for obj in _objects(factory(other_shop)):
        if getattr(obj, "shop_id", other_shop.pk) != other_shop.pk:
            problems.append(f"{where}: the factory made {obj!r} outside the shop it was given.")
            continue
        values: dict[str, object] = {}
        for kwarg in route.kwargs:
            attribute = route.lookup_attribute(kwarg, obj)
            if attribute is None:
                problems.append(
                    f"{where}: cannot tell which attribute of {model.__name__} goes into "
                    f"{{{kwarg}}}; declare `tenant_lookup_fields = {{{kwarg!r}: '<attr>'}}`."
                )
                return problems
            values[kwarg] = operator.attrgetter(attribute)(obj)
        url = route.url(values)
        try:
            match = resolve(url, route.urlconf)
        except Resolver404:
            match = None
        if match is None or match.func is not route.callback:
            problems.append(f"{where}: {url} does not resolve back to the route.")
            continue
        before = snapshot(obj)
        response = client.generic(
            method, url, data=json.dumps(body), content_type="application/json"
        )
        after = snapshot(obj)
        label = f"{where} on {model.__name__} {obj.pk} of shop {other_shop.slug} at {url}"
        if after != before:
            problems.append(f"{label}: the other shop's rows changed: {_diff(before, after)}")
        sent = " ".join([*map(str, values.values()), json.dumps(body, ensure_ascii=False)])
        problems += [f"{label}: {leak}" for leak in _leaks(obj, response.content, sent)]
        status = response.status_code
        if route.tenant_lookup == "id" or method != "PUT":
            allowed = {404} | ({405} if not isinstance(route.view, type) else set())
            if status not in allowed:
                problems.append(f"{label}: answered {status}, expected 404.")
        else:
            if status >= 500:
                problems.append(f"{label}: answered {status}.")
            data = _json(response.content)
            if isinstance(data, dict) and data.get("id") == obj.pk:
                problems.append(f"{label}: answered with the other shop's object.")
    return problems


def _diff(before: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]]) -> str:
    changes: list[str] = []
    for table in sorted(set(before) | set(after)):
        old, new = before.get(table, []), after.get(table, [])
        if old == new:
            continue
        if len(old) != len(new):
            changes.append(f"{table}: {len(old)} rows -> {len(new)} rows")
            continue
        for old_row, new_row in zip(old, new, strict=True):
            fields = sorted(k for k in old_row if old_row[k] != new_row.get(k))
            changes += [f"{table}.{k}: {old_row[k]!r} -> {new_row.get(k)!r}" for k in fields]
    return "; ".join(changes)


def _json(content: bytes) -> object:
    try:
        return json.loads(content) if content else None
    except ValueError:
        return None
