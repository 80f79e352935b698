"""The test suite's Redis cache (clinic/settings_test.py): clear() deletes this cache's own keys
instead of flushing the Redis database. Each pytest-xdist worker has its own key prefix, so a
worker clearing between tests leaves alone the other workers' keys, the Celery broker's queues in
the same database, and whatever else shares it (a developer's portal, another checkout's run)."""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache


class PrefixClearedRedisCache(RedisCache):
    def clear(self):
        if not self.key_prefix:
            raise ValueError("a prefix-cleared cache needs a KEY_PREFIX, or clear() would delete every key")
        client = self._cache.get_client(None, write=True)
        keys = list(client.scan_iter(match=f"{self.key_prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        return True
