"""The default cache: Redis, and the database while Redis does not answer.

allauth keeps its rate limits (failed sign-ins, password resets, MFA attempts) and its used-code
memory in the default cache, so with Redis down every sign-in was a 500 (issue 18). Turning the
limits off would remove the brute-force protection exactly when the stack is degraded; refusing
every sign-in would lock the whole clinic out. Instead each call goes to Redis and, when Redis
refuses the connection or times out, to Django's database cache (a table made by migration
``clinic 0017``): the limits keep holding across web processes, with the counts of the outage.

After a failure the primary is not tried again for ``RETRY_SECONDS`` (per process), so a dead
Redis costs one connection attempt per process every few seconds, not one per cache call. What
degrades: counts kept in one store are not seen by the other, so when Redis comes back the rate
limits start again from what Redis held (at most one window of extra attempts), and a cached
badge count can be up to its TTL stale. Nothing here is a system of record.

Configured in settings as::

    "default": {"BACKEND": "clinic.cache.FailoverCache",
                "OPTIONS": {"PRIMARY": "redis", "FALLBACK": "database"}}
"""

from __future__ import annotations

import logging
import threading
import time

from django.core.cache import caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# Connection refused, reset, DNS failure, timeout: Redis is not answering. Other Redis errors (a
# wrong password, a full memory) are configuration faults and are raised as before.
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)
RETRY_SECONDS = 5.0

# Primary alias -> monotonic time before which it is not tried; shared by the threads of a process.
_down_until: dict[str, float] = {}
_state_lock = threading.Lock()


class FailoverCache(BaseCache):
    def __init__(self, location, params):
        super().__init__(params)
        options = params.get("OPTIONS", {})
        self.primary_alias = options["PRIMARY"]
        self.fallback_alias = options["FALLBACK"]
        self.retry_seconds = float(options.get("RETRY_SECONDS", RETRY_SECONDS))

    @property
    def primary(self) -> BaseCache:
        return caches[self.primary_alias]

    @property
    def fallback(self) -> BaseCache:
        return caches[self.fallback_alias]

    def primary_is_down(self) -> bool:
        return time.monotonic() < _down_until.get(self.primary_alias, 0.0)

    def _mark_down(self, exc: Exception) -> None:
        with _state_lock:
            first = not self.primary_is_down()
            _down_until[self.primary_alias] = time.monotonic() + self.retry_seconds
        if first:
            logger.warning(
                "Cache %r unavailable (%s); using %r for %.0f s.",
                self.primary_alias,
                type(exc).__name__,
                self.fallback_alias,
                self.retry_seconds,
            )

    def _call(self, method: str, *args, **kwargs):
        if not self.primary_is_down():
            try:
                return getattr(self.primary, method)(*args, **kwargs)
            except UNAVAILABLE as exc:
                self._mark_down(exc)
        return getattr(self.fallback, method)(*args, **kwargs)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("add", key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._call("get", key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set", key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("touch", key, timeout, version)

    def delete(self, key, version=None):
        return self._call("delete", key, version)

    def get_many(self, keys, version=None):
        return self._call("get_many", keys, version)

    def has_key(self, key, version=None):
        return self._call("has_key", key, version)

    def incr(self, key, delta=1, version=None):
        return self._call("incr", key, delta, version)

    def decr(self, key, delta=1, version=None):
        return self._call("decr", key, delta, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set_many", data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._call("delete_many", keys, version)

    def clear(self):
        return self._call("clear")

    def close(self, **kwargs):
        # Django closes every alias at the end of a request; the two stores are aliases too.
        return None
