"""Django's Redis cache with one client per process, so that its connection pool is one too.

Django keeps a cache backend per context (``django.core.cache.caches`` is an asgiref ``Local``
that is not thread-critical, so it lives in a context variable), and ``RedisCache`` makes its
client, with the client's connection pools, on first use in that backend. Every HTTP request
runs in a context of its own (``apps.core.asgi_http`` copies one per request, as Django's ASGI
handler does), so every request that touched the cache made a new pool and opened a new TCP
connection to Redis, whose ``redis-py`` setup also looks up its package version on disk; the
old ones closed when the garbage collector found them. Under issue 8's burst that was a Redis
connection and a disconnect per request (py-spy), and ``REDIS_POOL_MAX`` bounded nothing: each
pool had one connection. Django's ticket is open (django/django pull request 18459).

Here the backends of a process share one ``RedisCacheClient`` per configuration (its servers and
options); redis-py's pools are thread-safe and reset themselves in a forked child. The backend
is otherwise Django's own.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property

_clients: dict[tuple[Any, ...], RedisCacheClient] = {}
_clients_lock = threading.Lock()


class SharedRedisCache(RedisCache):
    """``RedisCache`` whose client (and so its connection pools) is shared by the process."""

    @cached_property
    def _cache(self) -> RedisCacheClient:
        # Django's parsed servers and options (django-stubs leaves these out).
        servers, options = self._servers, self._options  # type: ignore[attr-defined]
        key = (tuple(servers), repr(sorted(options.items())))
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = RedisCacheClient(servers, **options)
            return client
