"""Prometheus metrics, correct across gunicorn worker processes.

In gunicorn every worker writes its samples to PROMETHEUS_MULTIPROC_DIR (set by
config/gunicorn.conf.py before any worker starts) and the master's metrics listener adds
them up; a single process (runserver, tests) uses the default registry.
"""

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from config.env import env

REQUESTS = Counter(
    "kubeblog_http_requests_total",
    "HTTP requests answered, by view, method and status.",
    ["view", "method", "status"],
)
LATENCY = Histogram(
    "kubeblog_http_request_duration_seconds",
    "Time from the request reaching Django to the response leaving it.",
    ["view"],
    buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DB_ERRORS = Counter(
    "kubeblog_db_errors_total", "Requests or probes that failed to reach PostgreSQL."
)
DB_READ_RETRIES = Counter(
    "kubeblog_db_read_retries_total",
    "Reads tried a second time after the database failed them (ops.failover), by result.",
    ["result"],
)
DB_DEADLINES = Counter(
    "kubeblog_db_deadline_exceeded_total",
    "PostgreSQL connections shut down because a request or a health check held them past "
    "its deadline (ops.deadlines).",
)
CACHE_ERRORS = Counter(
    "kubeblog_cache_errors_total", "Redis commands that failed (each one a miss for the app)."
)
CACHE_SKIPPED = Counter(
    "kubeblog_cache_skipped_total",
    "Cache calls that skipped Redis because the circuit was open (each one a miss).",
)
CIRCUIT = Counter(
    "kubeblog_circuit_changes_total",
    "Times a circuit breaker of this process (ops.health) opened or closed, by dependency "
    "(database, cache) and new state.",
    ["dependency", "state"],
)
CACHE_REJECTED = Counter(
    "kubeblog_cache_rejected_total",
    "Values read from Redis that this site had not signed (each one a miss, never used).",
)
PAGE_CACHE = Counter(
    "kubeblog_page_cache_total", "Anonymous page cache lookups, by result.", ["result"]
)
BUILD_INFO = Gauge(
    "kubeblog_build_info",
    "Always 1; the labels tell which version this replica runs.",
    ["version", "replica"],
    multiprocess_mode="max",
)

CONTENT_TYPE = CONTENT_TYPE_LATEST


def set_build_info(version: str, replica: str) -> None:
    """Publish the build info sample for this process."""
    BUILD_INFO.labels(version=version, replica=replica).set(1)


def render() -> bytes:
    """The current metrics in Prometheus text format."""
    if env("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)
