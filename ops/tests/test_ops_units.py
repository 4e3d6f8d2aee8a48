import json
import logging
import time

import pytest
from django.test import RequestFactory

from config.settings.base import cache_from_url
from ops.cgroup import available_cpus, cpu_quota
from ops.client_ip import client_ip
from ops.logging import JsonFormatter, scrub


def test_cgroup_v2_quota(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cpu_quota(str(tmp_path)) == 1.5
    assert available_cpus(str(tmp_path)) == min(2, available_cpus("/nonexistent"))


def test_cgroup_v2_unlimited_and_v1(tmp_path):
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cpu_quota(str(tmp_path)) is None
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("50000")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000")
    assert cpu_quota(str(v1)) == 0.5
    assert available_cpus(str(v1)) == 1


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (0, "1.1.1.1", "10.0.0.9"),
        (1, "1.1.1.1", "1.1.1.1"),
        (1, "6.6.6.6, 1.1.1.1", "1.1.1.1"),  # the client cannot spoof the trusted hop
        (2, "6.6.6.6, 1.1.1.1, 10.0.0.2", "1.1.1.1"),
        (1, "", "10.0.0.9"),
    ],
)
def test_client_ip_trusts_only_known_proxies(settings, hops, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = hops
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_request_ids_are_kept_when_sane_and_replaced_when_not(client, db):
    assert client.get("/healthz").status_code == 200
    kept = client.get("/whoami", HTTP_X_REQUEST_ID="abc-123")
    assert kept["X-Request-ID"] == "abc-123"
    replaced = client.get("/whoami", HTTP_X_REQUEST_ID="<script>" + "x" * 300)
    assert replaced["X-Request-ID"] != "abc-123"
    assert len(replaced["X-Request-ID"]) == 32


def test_readyz_is_the_replicas_own_state_and_only_reports_the_database(client, db):
    from ops import health

    health.saw("database", False)  # as a request that failed to reach PostgreSQL reports
    response = client.get("/readyz")
    body = response.json()
    assert (response.status_code, body["status"], body["failed"]) == (200, "ok", [])
    assert body["database"] == "unavailable"
    health.saw("database", True)
    assert client.get("/readyz").json()["database"] == "ok"
    assert body["migrations"] == "ok"
    assert response["Cache-Control"] == "private, no-store"


def test_the_not_ready_filter_is_installed_on_django_request():
    from ops.probes import NotReadyIsRoutine

    filters = logging.getLogger("django.request").filters
    assert [type(f) for f in filters] == [NotReadyIsRoutine]


def test_the_not_ready_filter_drops_exactly_a_503_from_readyz():
    from django.http import HttpResponse
    from django.utils.log import log_response

    from ops.probes import NotReadyIsRoutine

    def record_of(path, status):
        records = []

        class Keep(logging.Handler):
            def emit(self, record):
                records.append(record)

        logger = logging.getLogger("kubeblog.test.requests")
        handler = Keep()
        logger.addHandler(handler)
        try:
            log_response(
                "%s", path, response=HttpResponse(status=status),
                request=RequestFactory().get(path), logger=logger,
            )  # fmt: skip
        finally:
            logger.removeHandler(handler)
        return records[0]

    keep = NotReadyIsRoutine().filter
    assert keep(record_of("/readyz", 503)) is False
    assert keep(record_of("/readyz", 500)) is True
    assert keep(record_of("/post/1/", 503)) is True


def test_cache_failures_turned_into_misses_are_counted(settings):
    from django.core.cache import cache
    from prometheus_client import REGISTRY

    from harness.servers import free_port

    settings.CACHES = {"default": cache_from_url(f"redis://127.0.0.1:{free_port()}/0")}
    before = REGISTRY.get_sample_value("kubeblog_cache_errors_total") or 0
    assert cache.get("anything") is None  # nothing listens there: a miss, not an error
    assert REGISTRY.get_sample_value("kubeblog_cache_errors_total") == before + 1


def test_json_formatter_writes_one_parseable_line_and_scrubs_secrets():
    record = logging.LogRecord(
        "x",
        logging.ERROR,
        __file__,
        1,
        "connecting to postgres://app:hunter2@db/x with password=abc",
        None,
        None,
    )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR"
    assert entry["message"] == "connecting to postgres://app:***@db/x with password=***"


@pytest.mark.parametrize(
    ("raw", "scrubbed"),
    [
        ("Cookie: sessionid=abc123def; csrftoken=xyz789", "Cookie: sessionid=***; csrftoken=***"),
        ("csrfmiddlewaretoken=tok123&password=pw456", "csrfmiddlewaretoken=***&password=***"),
        ("redis://default:s3cret@redis:6379/0", "redis://default:***@redis:6379/0"),
        ('{"password": "pw789"}', '{"password": "***"}'),
        ("GET /post/1/ 200 in 12 ms", "GET /post/1/ 200 in 12 ms"),
    ],
)
def test_scrub_hides_exactly_the_secret_values(raw, scrubbed):
    assert scrub(raw) == scrubbed


def test_metrics_view_on_the_app_port_only_when_enabled(client, settings, db):
    from prometheus_client.parser import text_string_to_metric_families

    client.get("/")
    response = client.get("/metrics")
    names = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert "kubeblog_http_requests" in names
    settings.METRICS_ON_APP_PORT = False
    assert client.get("/metrics").status_code == 404


@pytest.mark.django_db
def test_a_request_that_fails_midway_leaves_nothing_half_written(client, author):
    """Deleting a post removes its comments, then the post: a failure in between rolls back."""
    from django.db.models.signals import post_delete

    from blog.models import Comment, Post
    from blog.tests.factories import CommentFactory, PostFactory

    post = PostFactory(author=author)
    CommentFactory.create_batch(3, post=post)

    def fail_after_first_comment(sender, instance, **kwargs):
        raise RuntimeError("the process died here")

    post_delete.connect(fail_after_first_comment, sender=Comment)
    client.raise_request_exception = False
    try:
        client.force_login(author)
        response = client.post(f"/post/{post.pk}/remove/")
    finally:
        post_delete.disconnect(fail_after_first_comment, sender=Comment)
    assert response.status_code == 500
    assert b"Something went wrong" in response.content
    assert Post.objects.filter(pk=post.pk).exists()
    assert Comment.objects.filter(post=post).count() == 3


def test_the_sites_own_secret_key_never_reaches_a_log_line(settings):
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, f"failed with key {settings.SECRET_KEY}", None, None
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "failed with key ***"


def test_a_breaker_knows_how_long_its_dependency_has_been_failing():
    from ops import health

    breaker = health.Breaker("database", failures=1, open_seconds=2.0)
    assert breaker.failing_for() is None
    breaker.failed()
    first = breaker.failing_for()
    time.sleep(0.05)
    breaker.failed()  # a second failure does not restart the count
    assert first is not None and breaker.failing_for() >= first + 0.05
    breaker.succeeded()
    assert breaker.failing_for() is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_write_that_reaches_a_server_still_in_recovery_is_a_503_to_retry(author):
    from django.db import connection
    from django.test import Client

    client = Client(raise_request_exception=False)
    client.force_login(author)
    # As a standby being promoted answers a write: read-only, for an instant.
    with connection.cursor() as cursor:
        cursor.execute("SET default_transaction_read_only = on")
    try:
        response = client.post("/post/new/", {"title": "During a failover", "body": "text"})
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET default_transaction_read_only = off")
    assert (response.status_code, response["Retry-After"]) == (503, "5")
