"""The cache's Redis: a circuit breaker around it, and nothing read back that can do harm."""

import os
import pickle
import socket
import time
from pathlib import Path

import pytest
from django.core.cache import cache
from prometheus_client import REGISTRY

from blog.tests.factories import PostFactory
from config.settings.base import cache_from_url
from ops import cache as ops_cache
from ops.health import BREAKERS

pytestmark = pytest.mark.django_db


@pytest.fixture
def hung_redis(settings):
    """A Redis that accepts connections and never answers: a frozen server, as the client
    sees it (the kernel completes the handshake, nobody reads)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        port = listener.getsockname()[1]
        settings.CACHES = {"default": cache_from_url(f"redis://127.0.0.1:{port}/0")}
        yield


def _timed(call) -> float:
    started = time.monotonic()
    call()
    return time.monotonic() - started


def test_a_hung_redis_costs_a_few_timeouts_then_nothing_until_it_is_tried_again(
    hung_redis, monkeypatch
):
    breaker = BREAKERS["cache"]
    monkeypatch.setattr(breaker, "open_seconds", 1.5)  # shorter, for the test
    skipped = REGISTRY.get_sample_value("kubeblog_cache_skipped_total") or 0
    first = [_timed(lambda: cache.get("k")) for _ in range(breaker.failures)]
    assert all(t >= 0.4 for t in first), first  # each waits for REDIS_TIMEOUT (0.5 s)
    open_calls = [_timed(lambda: cache.get("k")) for _ in range(20)]
    assert max(open_calls) < 0.05, open_calls  # the circuit is open: Redis is not asked
    assert cache.get("k", "default") == "default"
    assert REGISTRY.get_sample_value("kubeblog_cache_skipped_total") == skipped + 21
    # Once the open period is over, one call tries Redis again (and fails: still hung).
    time.sleep(1.5)  # the open period itself, not a wait for something to happen
    assert _timed(lambda: cache.get("k")) >= 0.4
    assert _timed(lambda: cache.get("k")) < 0.05  # open again after the failed trial


def _raw_redis():
    from django_redis import get_redis_connection

    return get_redis_connection("default")


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch /tmp/kubeblog-cache-payload-ran",))


@pytest.mark.postgres  # the run on PostgreSQL is the one with a real Redis
def test_a_value_planted_in_redis_never_runs_and_is_never_served(client, author, settings):
    from django.conf import settings as live

    assert "redis" in live.CACHES["default"]["BACKEND"]
    settings.APP_PAGE_CACHE = True
    ran = Path("/tmp/kubeblog-cache-payload-ran")
    ran.unlink(missing_ok=True)
    PostFactory(author=author, title="The real title")
    client.get("/")  # stored, signed
    redis = _raw_redis()
    (page_key,) = [k for k in redis.keys("kubeblog:*page:*")]
    rejected = REGISTRY.get_sample_value("kubeblog_cache_rejected_total") or 0
    for planted in (
        pickle.dumps(_Payload()),
        ops_cache.SignedJSONSerializer({}).dumps({"forged": True})[:32]
        + b'{"generation":0,"status":200,"headers":[],"content":"Zm9yZ2Vk",'
        b'"replica":"x","stored":9e18}',
    ):
        redis.set(page_key, planted)
        page = client.get("/")
        assert page.status_code == 200
        assert b"The real title" in page.content
    assert not ran.exists()
    assert REGISTRY.get_sample_value("kubeblog_cache_rejected_total") == rejected + 2


def test_values_with_bytes_come_back_whole_and_the_bytes_travel_raw():
    serializer = ops_cache.SignedJSONSerializer({})
    page = "<p>a page é</p>".encode() * 100
    value = {"content": page, "parts": [b"", b"\x00\xff", {"inner": b"x"}], "n": 1.5, "s": "é"}
    stored = serializer.dumps(value)
    assert serializer.loads(stored) == value
    assert page in stored  # not base64: served from the stored bytes as they are
    assert serializer.loads(stored[:-1] + b"?") is None  # any change is a miss


def test_a_value_of_the_earlier_format_is_a_miss_not_an_error(settings):
    import hashlib
    import hmac

    key = hashlib.sha256(b"kubeblog.cache:" + settings.SECRET_KEY.encode()).digest()
    payload = b'{"generation":0,"status":200}'
    earlier = hmac.new(key, payload, hashlib.sha256).digest() + payload
    assert ops_cache.SignedJSONSerializer({}).loads(earlier) is None
