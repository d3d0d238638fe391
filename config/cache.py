"""A Redis cache that degrades to a miss when Redis is down.

The cache holds nothing that must not be lost (the API throttle's counters): with Redis down,
reads answer like an empty cache and writes are dropped, each time logged, so the throttle
lets the request through instead of every API write answering 500.
"""

import functools
import logging

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

CACHE_DOWN = (RedisError, OSError)


def _forgiving(method, fallback):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except CACHE_DOWN as exc:
            logger.warning(
                "Cache unavailable (%s: %s); going on without it", type(exc).__name__, exc
            )
            return fallback(*args, **kwargs)

    return wrapper


def _default(key, default=None, *args, **kwargs):
    return default


def _answer(value):
    return lambda *args, **kwargs: value() if callable(value) else value


class ForgivingRedisCache(RedisCache):
    get = _forgiving(RedisCache.get, _default)
    get_many = _forgiving(RedisCache.get_many, _answer(dict))
    has_key = _forgiving(RedisCache.has_key, _answer(False))
    add = _forgiving(RedisCache.add, _answer(False))
    set = _forgiving(RedisCache.set, _answer(None))
    set_many = _forgiving(RedisCache.set_many, _answer(list))
    touch = _forgiving(RedisCache.touch, _answer(False))
    delete = _forgiving(RedisCache.delete, _answer(False))
    delete_many = _forgiving(RedisCache.delete_many, _answer(None))
    clear = _forgiving(RedisCache.clear, _answer(False))
