"""Coalesced work after commit: "something of shop 7 changed" becomes at most one run a second
per shop, across every process, and the last change is never lost (SPEC G2: the live board's
``monitor.updated``; docs/metrics.md, "Pushing the board").

Callers mark a key as changed (``changed(topic, key)``) from inside their transaction; the mark
is taken when it commits (``transaction.on_commit``), and costs the caller a set insert and a
wake-up: no query, no Redis round trip, so the lifecycle's hot paths stay as they are
(``tests/conversations/test_query_counts.py``). A daemon thread per process (made again after a
fork) takes the marks and, per key:

1. counts the change in Redis (``INCR`` of the key's change counter, ``c``);
2. asks the gate, atomically (one Lua script): was a run since that covered ``c`` (another
   process's, or ours)? Then nothing to do. Else ``SET gate NX PX <interval>``: taken, the run
   covers every change counted so far; not taken, try again when the gate expires (``PTTL``):
   the trailing run, so the last change of a burst still gets its update;
3. runs the topic's handler (outside any request or transaction), then records the count it
   covered.

A run starts only after the marks it covers were counted, which is after their commits, so what
it reads includes them. Two processes marking in the same second give one run, then (if a change
came after it started) one trailing run: at most one a second per key in all. Without Redis
(the embedded mode, one process) the same gate lives in the process.

Handlers are registered by topic name (``register``), as Celery tasks are named: the code that
marks (the conversation lifecycle) sits below the code that handles (the metrics app) in the
layering (pyproject.toml, import-linter), and must not import it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings
from django.db import connections, transaction

logger = logging.getLogger(__name__)

KEY_TTL_SECONDS = 24 * 3600  # the counters of a key nobody changed for a day go
GATHER_SECONDS = 0.05  # the daemon thread waits this long after a wake-up before it counts


class Gate(Protocol):
    def note(self, topic: str, key: int) -> int:
        """Count one change; the count so far."""

    def attempt(self, topic: str, key: int, need: int, interval_ms: int) -> tuple[str, int]:
        """``("covered", 0)``: a run since covered change ``need``; ``("run", upto)``: the gate
        is ours, run now, covering the changes up to ``upto``; ``("wait", ms)``: try again then."""

    def ran(self, topic: str, key: int, upto: int) -> None:
        """A run covered the changes up to ``upto``."""


# KEYS: the gate, the change counter, the covered count. ARGV: the change to cover, interval ms.
_ATTEMPT = """
local covered = tonumber(redis.call('GET', KEYS[3]) or '0')
if covered >= tonumber(ARGV[1]) then return {'covered', 0} end
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[2]) then
  return {'run', tonumber(redis.call('GET', KEYS[2]) or '0')}
end
return {'wait', redis.call('PTTL', KEYS[1])}
"""
# KEYS: the change counter, the covered count. ARGV: the keys' lifetime.
_NOTE = """
local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('DEL', KEYS[2]) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return c
"""
# KEYS: the covered count. ARGV: the count a run covered, the lifetime.
_RAN = """
if tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return 1
"""


class RedisGate:
    """The gate of every process, in Redis: keys ``helpdesk:coalesce:<topic>:<key>:*``."""

    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3)
        self._attempt = self._client.register_script(_ATTEMPT)
        self._note = self._client.register_script(_NOTE)
        self._ran = self._client.register_script(_RAN)

    @staticmethod
    def _keys(topic: str, key: int) -> tuple[str, str, str]:
        base = f"helpdesk:coalesce:{topic}:{key}"
        return f"{base}:gate", f"{base}:changes", f"{base}:covered"

    def note(self, topic: str, key: int) -> int:
        _gate, changes, covered = self._keys(topic, key)
        return int(self._note(keys=[changes, covered], args=[KEY_TTL_SECONDS]))

    def attempt(self, topic: str, key: int, need: int, interval_ms: int) -> tuple[str, int]:
        verdict, value = self._attempt(keys=list(self._keys(topic, key)), args=[need, interval_ms])
        return (verdict.decode() if isinstance(verdict, bytes) else str(verdict)), int(value)

    def ran(self, topic: str, key: int, upto: int) -> None:
        _gate, _changes, covered = self._keys(topic, key)
        self._ran(keys=[covered], args=[upto, KEY_TTL_SECONDS])


class LocalGate:
    """The same gate inside one process (the embedded mode has no Redis), and for tests with a
    clock of their own (``clock``: seconds, monotonic)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._changes: dict[tuple[str, int], int] = {}
        self._covered: dict[tuple[str, int], int] = {}
        self._until: dict[tuple[str, int], float] = {}

    def note(self, topic: str, key: int) -> int:
        with self._lock:
            count = self._changes.get((topic, key), 0) + 1
            self._changes[(topic, key)] = count
            return count

    def attempt(self, topic: str, key: int, need: int, interval_ms: int) -> tuple[str, int]:
        with self._lock:
            if self._covered.get((topic, key), 0) >= need:
                return "covered", 0
            now = self.clock()
            until = self._until.get((topic, key), 0.0)
            if until > now:
                return "wait", max(1, int((until - now) * 1000))
            self._until[(topic, key)] = now + interval_ms / 1000
            return "run", self._changes.get((topic, key), 0)

    def ran(self, topic: str, key: int, upto: int) -> None:
        with self._lock:
            self._covered[(topic, key)] = max(self._covered.get((topic, key), 0), upto)


@dataclass
class _Pending:
    need: int = 0  # the highest change this process counted and no run covered yet
    retry_at: float = 0.0  # monotonic seconds: when the gate may be free again


@dataclass
class Coalescer:
    """One topic's marks, gate and handler in this process (see the module docstring)."""

    topic: str
    interval_ms: int = 1000
    handler: Callable[[int], Any] | None = None
    gate: Gate | None = None
    clock: Callable[[], float] = time.monotonic
    autostart: bool = True  # tests turn it off and call ``step`` themselves
    _marked: set[int] = field(default_factory=set)
    _pending: dict[int, _Pending] = field(default_factory=dict)
    _wake: threading.Condition = field(default_factory=threading.Condition)
    _pid: int | None = None

    # --- Marking (any thread, after commit) ----------------------------------------------------

    def mark(self, key: int) -> None:
        with self._wake:
            if self._pid != os.getpid():  # first mark, or a forked child: a thread of its own
                self._reset()
            self._marked.add(key)
            self._wake.notify()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._marked = set()
        self._pending = {}
        if self.autostart:
            name = f"coalesce-{self.topic}"
            threading.Thread(target=self._loop, name=name, daemon=True).start()

    # --- The work (the daemon thread, or a test) -----------------------------------------------

    def _gate(self) -> Gate:
        if self.gate is None:
            self.gate = LocalGate() if settings.EMBEDDED else RedisGate(settings.REDIS_URL)
        return self.gate

    def take_marks(self) -> set[int]:
        with self._wake:
            marked, self._marked = self._marked, set()
            return marked

    def step(self, marked: set[int] | None = None) -> list[int]:
        """Count ``marked`` (by default: the marks waiting), then run every key whose turn it
        is. Returns the keys run. The next call is due at ``next_due()``."""
        self.count(self.take_marks() if marked is None else marked)
        return self.run_due()

    def count(self, marked: set[int]) -> None:
        """Count one change of each key in the gate (step 1 of the module docstring)."""
        gate = self._gate()
        for key in marked:
            pending = self._pending.setdefault(key, _Pending())
            pending.need = max(pending.need, gate.note(self.topic, key))

    def run_due(self) -> list[int]:
        """Run the counted keys whose turn it is (steps 2 and 3); the keys run."""
        gate = self._gate()
        ran: list[int] = []
        now = self.clock()
        for key, pending in list(self._pending.items()):
            if pending.retry_at > now:
                continue
            verdict, value = gate.attempt(self.topic, key, pending.need, self.interval_ms)
            if verdict == "covered":
                del self._pending[key]
            elif verdict == "wait":
                pending.retry_at = now + max(value, 1) / 1000
            else:
                self._run(key)
                gate.ran(self.topic, key, value)
                ran.append(key)
                if value >= pending.need:
                    del self._pending[key]
                else:  # cannot happen with one counter per key; retry after the gate, safely
                    pending.retry_at = now + self.interval_ms / 1000
        return ran

    def next_due(self) -> float | None:
        """When ``step`` has work again without new marks (monotonic seconds), or None."""
        return min((p.retry_at for p in self._pending.values()), default=None)

    def _run(self, key: int) -> None:
        if self.handler is None:
            return
        try:
            self.handler(key)
        except Exception:
            logger.exception("coalesced %s for %s failed", self.topic, key)

    def _loop(self) -> None:
        me = os.getpid()
        while self._pid == me:
            with self._wake:
                if not self._marked:
                    due = self.next_due()
                    timeout = None if due is None else max(0.0, due - self.clock())
                    self._wake.wait(timeout)
            # Let the marks of a burst gather: one count per key for all the commits of this
            # short while, not a wake-up and two Redis round trips per commit (issue 8: every
            # wake-up took the GIL from the request threads).
            time.sleep(GATHER_SECONDS)
            try:
                self.step()
            except Exception:  # Redis unreachable: keep the marks' keys, try again shortly
                logger.exception("coalescing %s failed", self.topic)
                time.sleep(self.interval_ms / 1000)
            finally:
                connections.close_all()  # this thread's connections back to the pool


_topics: dict[str, Coalescer] = {}
_topics_lock = threading.Lock()


def coalescer(topic: str) -> Coalescer:
    """The topic's coalescer in this process (made on first use)."""
    with _topics_lock:
        found = _topics.get(topic)
        if found is None:
            found = _topics[topic] = Coalescer(topic)
        return found


def register(topic: str, handler: Callable[[int], Any], *, interval_ms: int = 1000) -> None:
    """Run ``handler(key)`` for the topic's marked keys (at app start, ``AppConfig.ready``)."""
    found = coalescer(topic)
    found.handler = handler
    found.interval_ms = interval_ms


def changed(topic: str, key: int) -> None:
    """Mark ``key`` of ``topic`` as changed when the current transaction commits (at once
    outside one). Nothing happens for a topic nobody handles, or while
    ``HELPDESK_COALESCE_ENABLED`` is off (the test suite's default)."""
    found = _topics.get(topic)
    if found is None or found.handler is None or not settings.HELPDESK_COALESCE_ENABLED:
        return
    transaction.on_commit(lambda: found.mark(key))
