"""The cache's Redis, made cheap to lose and unable to do harm.

- **A circuit breaker per process** (`BreakerRedis`, django-redis's REDIS_CLIENT_CLASS, with
  the cache's breaker in ops.health): after a few failed commands in a row, every cache call
  skips Redis for a few seconds, then one call tries it again. A Redis that hangs costs a few
  timeouts, not one per call; every cache use (the page cache, cached sessions, rate limits)
  goes through it, and django-redis turns a skipped call into a miss, as a failed one.
- **Values are JSON, signed with the site's key** (`SignedJSONSerializer`, django-redis's
  SERIALIZER): nothing read back from Redis can run code (no pickle), and a value that this
  site did not write is a miss. Someone who can write to Redis can at worst cause misses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import redis
from django.conf import settings
from django.core.cache import cache
from django_redis.serializers.base import BaseSerializer

from ops import health, metrics


def count(key: str, timeout: int | None) -> int | None:
    """Add one to the counter `key` in the shared cache (created at 0, kept `timeout`
    seconds) and return it; None when it could not be counted (the cache is down, or the
    key expired between its creation and the increment)."""
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:
        return None


class BreakerRedis(redis.Redis):
    """redis-py's client, each command through this process's circuit breaker for the cache
    (ops.health)."""

    def execute_command(self, *args, **options):
        if not health.worth_trying("cache"):
            metrics.CACHE_SKIPPED.inc()
            raise redis.ConnectionError("Redis skipped: the circuit is open")
        try:
            result = super().execute_command(*args, **options)
        except (redis.ConnectionError, redis.TimeoutError):
            metrics.CACHE_ERRORS.inc()
            health.saw("cache", False)
            raise
        health.saw("cache", True)
        return result


class SignedJSONSerializer(BaseSerializer):
    """JSON (bytes as base64) behind an HMAC-SHA256 of the site's key."""

    def dumps(self, value) -> bytes:
        payload = json.dumps(value, default=_bytes_to_json, separators=(",", ":")).encode()
        return _mac(payload) + payload

    def loads(self, value: bytes):
        mac, payload = value[:32], value[32:]
        if not hmac.compare_digest(mac, _mac(payload)):
            metrics.CACHE_REJECTED.inc()
            return None  # not written by this site: a miss
        return json.loads(payload, object_hook=_bytes_from_json)


def _mac(payload: bytes) -> bytes:
    return hmac.new(_key(), payload, hashlib.sha256).digest()


_keys: dict[str, bytes] = {}


def _key() -> bytes:
    secret = settings.SECRET_KEY
    if secret not in _keys:
        _keys[secret] = hashlib.sha256(b"kubeblog.cache:" + secret.encode()).digest()
    return _keys[secret]


def _bytes_to_json(value):
    if isinstance(value, bytes):
        return {"__bytes__": base64.b64encode(value).decode("ascii")}
    raise TypeError(f"not JSON: {type(value).__name__}")


def _bytes_from_json(obj: dict):
    if obj.keys() == {"__bytes__"}:
        return base64.b64decode(obj["__bytes__"])
    return obj
