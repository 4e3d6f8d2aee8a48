"""Every environment variable kubeblog reads, declared once: name, type, default and meaning.

Django's settings (config/settings/*.py), the gunicorn configuration (config/gunicorn.conf.py)
and the management commands read variables only through `env` below, which refuses a name
that is not declared here. The README's configuration table is generated from VARIABLES
(`python -m config.env`, checked by a test), and the manifest tests hold the ConfigMaps and
Secrets to the same list.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import environ
from django.core.exceptions import ImproperlyConfigured

REQUIRED = environ.Env.NOTSET


@dataclass(frozen=True)
class Variable:
    name: str
    cast: type
    default: object
    meaning: str
    secret: bool = False  # from a Secret in Kubernetes, never a ConfigMap or a log line
    shown_default: str | None = None  # how the docs show a default computed at start-up
    read_by: str = ""  # a library that reads it itself, if the app's code does not

    @property
    def required(self) -> bool:
        """Production stops at start-up without it (local settings may supply their own)."""
        return self.default is REQUIRED

    def default_text(self) -> str:
        if self.shown_default is not None:
            return self.shown_default
        if self.required:
            return "—"
        if self.default in ("", []):
            return "empty"
        if isinstance(self.default, bool):
            return f"`{str(self.default).lower()}`"
        return f"`{self.default}`"


VARIABLES: tuple[Variable, ...] = (
    # --- Django ------------------------------------------------------------------------------
    Variable(
        "DJANGO_SETTINGS_MODULE", str, "config.settings.local",
        "the settings module Django loads",
        shown_default="`config.settings.local` (the image: `config.settings.production`)",
    ),
    Variable(
        "DJANGO_SECRET_KEY", str, REQUIRED,
        "signs sessions and CSRF tokens; the same on every replica", secret=True,
    ),
    Variable(
        "DJANGO_SECRET_KEY_FALLBACKS", list, [],
        "comma list of previous keys, for rotation without logging everyone out", secret=True,
    ),
    Variable(
        "DATABASE_URL", str, REQUIRED,
        "`postgres://user:password@host:5432/name` (`sqlite:///path` works too)", secret=True,
    ),
    Variable(
        "ALLOWED_HOSTS", list, REQUIRED,
        "comma list of host names the site answers to (probes answer any host)",
    ),
    Variable("CSRF_TRUSTED_ORIGINS", list, [], "comma list such as `https://blog.example.com`"),
    Variable(
        "DJANGO_DEBUG", bool, True,
        "Django's debug pages, in the local settings (production never shows them)",
    ),
    Variable(
        "REDIS_URL", str, "", "`redis://host:6379/0`; losing it costs speed, never correctness",
        secret=True, shown_default="empty (per-process memory cache)",
    ),
    Variable(
        "APP_VERSION", str, "dev", "shown on every page and in `/whoami` and metrics",
        shown_default="`dev` (the image bakes its version in)",
    ),
    Variable("THEME_COLOR", str, "orange", "header colour: a CSS colour name or `#hex`"),
    Variable(
        "POD_NAME", str, "", "replica name shown on every page", shown_default="the host name"
    ),
    Variable(
        "TRUSTED_PROXY_COUNT", int, 0,
        "proxies in front (ingress, load balancer) whose `X-Forwarded-For` entry is trusted "
        "for the client address",
    ),
    # --- PostgreSQL (every deadline: docs/operations.md, "Deadlines") ----------------------------
    Variable("DATABASE_POOL_MIN_SIZE", int, 1, "connections each worker process keeps open"),
    Variable("DATABASE_POOL_MAX_SIZE", int, 4, "connections each worker process may open"),
    Variable(
        "DATABASE_POOL_TIMEOUT", float, 2.0,
        "seconds a request waits for a connection before answering 503",
    ),
    Variable(
        "DATABASE_POOL_RECONNECT_TIMEOUT", float, 2.0,
        "seconds a failing reconnect loop runs before the next request starts a fresh one",
    ),
    Variable("DATABASE_CONNECT_TIMEOUT", int, 2, "seconds to open one PostgreSQL connection"),
    Variable(
        "DATABASE_STATEMENT_TIMEOUT", float, 3.0,
        "seconds PostgreSQL lets one statement of the app run (`statement_timeout`)",
    ),
    Variable(
        "DATABASE_LOCK_TIMEOUT", float, 2.0,
        "seconds a statement of the app waits for a lock (`lock_timeout`)",
    ),
    Variable(
        "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT", float, 10.0,
        "seconds PostgreSQL keeps a session idle inside a transaction before ending it",
    ),
    Variable(
        "REQUEST_DEADLINE", float, 5.0,
        "seconds a request may hold a PostgreSQL connection, even when the server is frozen",
    ),
    Variable(
        "DATABASE_FAILOVER_WINDOW", float, 5.0,
        "seconds from the database's first failure during which a read (GET, HEAD) that could "
        "not reach it is tried once more: a failover or switchover takes seconds; 0 never",
    ),
    Variable(
        "DATABASE_PGBOUNCER", bool, False,
        "`true` behind PgBouncer in transaction mode (no server-side cursors; the timeouts "
        "above are set on the role by `migrate_locked`, not per connection)",
    ),
    # --- Redis, pages --------------------------------------------------------------------------
    Variable(
        "REDIS_CONNECT_TIMEOUT", float, 0.25,
        "seconds to connect to Redis; a dead Redis costs a request at most this",
    ),
    Variable("REDIS_TIMEOUT", float, 0.5, "seconds one Redis command may take"),
    Variable(
        "PUBLIC_PAGE_TTL", int, 30,
        "seconds anonymous pages may be cached (`s-maxage`, and in the page cache)",
    ),
    Variable(
        "PUBLIC_PAGE_SWR", int, 30,
        "seconds shared caches may serve an anonymous page stale while revalidating",
    ),
    Variable(
        "PUBLIC_PAGE_STALE_IF_ERROR", int, 86_400,
        "seconds a cached anonymous page may still be served when the database is unavailable "
        "(the page cache, and `stale-if-error` for shared caches)",
    ),
    Variable("APP_PAGE_CACHE", bool, True, "keep rendered anonymous pages in the cache"),
    # --- security ------------------------------------------------------------------------------
    Variable(
        "SECURE_SSL_REDIRECT", bool, True,
        "redirect HTTP to HTTPS (the proxy sets `X-Forwarded-Proto`)",
    ),
    Variable("SECURE_COOKIES", bool, True, "`Secure` session and CSRF cookies"),
    Variable("SECURE_HSTS_SECONDS", int, 31_536_000, "HSTS max-age"),
    Variable("SECURE_HSTS_INCLUDE_SUBDOMAINS", bool, True, "HSTS covers subdomains"),
    Variable("SECURE_HSTS_PRELOAD", bool, True, "HSTS asks to be preloaded"),
    Variable(
        "AXES_FAILURE_LIMIT", int, 5,
        "failed logins for one username from one client address before that pair pauses",
    ),
    Variable(
        "LOGIN_ADDRESS_FAILURE_LIMIT", int, 20,
        "failed logins from one client address, over any usernames, before that address pauses",
    ),
    Variable(
        "LOGIN_SLOWDOWN_AFTER", int, 20,
        "failed logins for one username, from anywhere, after which each attempt waits "
        "1 s, 2 s, 4 s ... (at most a minute) after the last failure",
    ),
    Variable(
        "AXES_COOLOFF_MINUTES", float, 15.0,
        "how long a pair or an address then pauses, and how long failures are remembered",
    ),
    Variable("COMMENT_RATE_LIMIT", int, 5, "comments per client address per window"),
    Variable("COMMENT_RATE_WINDOW", int, 600, "the comment window, in seconds"),
    # --- files, logs, metrics --------------------------------------------------------------------
    Variable(
        "STATIC_ROOT", str, "", "where `collectstatic` puts static files",
        shown_default="`staticfiles/` in the project",
    ),
    Variable("LOG_LEVEL", str, "INFO", "application and gunicorn log level"),
    Variable(
        "METRICS_PORT", int, 9000,
        "the gunicorn master's own port: Prometheus metrics (`/metrics`) and liveness "
        "(`/healthz`), answered outside the request threads (`0` turns it off)",
    ),
    Variable("METRICS_ON_APP_PORT", bool, False, "also answer `/metrics` on the HTTP port"),
    Variable(
        "PROMETHEUS_MULTIPROC_DIR", str, "",
        "not a setting: `config/gunicorn.conf.py` sets it for its workers, to a new directory "
        "per gunicorn master where they write their metric samples",
    ),
    # --- gunicorn ------------------------------------------------------------------------------
    Variable("PORT", int, 8000, "HTTP port"),
    Variable(
        "GUNICORN_WORKERS", int, 0, "worker processes",
        shown_default="twice the CPU quota of the container",
    ),
    Variable("GUNICORN_THREADS", int, 4, "threads per worker"),
    Variable("GUNICORN_WORKER_CLASS", str, "gthread", "gunicorn worker class"),
    Variable(
        "GUNICORN_TIMEOUT", int, 30,
        "seconds before a worker whose main loop stops checking in is restarted (in gthread "
        "workers it bounds no request: `REQUEST_DEADLINE` does)",
    ),
    Variable(
        "GUNICORN_GRACEFUL_TIMEOUT", int, 20,
        "seconds in-flight requests get to finish after SIGTERM",
    ),
    Variable(
        "GUNICORN_KEEPALIVE", int, 75,
        "keep-alive seconds, longer than any load balancer's idle timeout in front",
    ),
    Variable(
        "GUNICORN_MAX_REQUESTS", int, 20_000,
        "requests before a worker is recycled (`0`: never)",
    ),
    # --- e-mail, sent only by the task worker (docs/operations.md, "E-mail") ---------------
    Variable(
        "SITE_URL", str, "",
        "the site's address, for links in e-mail such as `https://blog.example.com`",
        shown_default="`https://` and the first of `ALLOWED_HOSTS`",
    ),
    Variable(
        "EMAIL_HOST", str, REQUIRED,
        "the SMTP relay that mail goes through; `console` writes each mail to the worker's "
        "log instead",
    ),
    Variable("EMAIL_PORT", int, 587, "the relay's port"),
    Variable("EMAIL_USE_TLS", bool, True, "STARTTLS to the relay (port 587)"),
    Variable("EMAIL_USE_SSL", bool, False, "TLS from the first byte (port 465)"),
    Variable("EMAIL_HOST_USER", str, "", "the relay's user name"),
    Variable("EMAIL_HOST_PASSWORD", str, "", "the relay's password", secret=True),
    Variable(
        "EMAIL_TIMEOUT", float, 10.0,
        "seconds one step of an SMTP conversation may take before the attempt is retried",
    ),
    Variable(
        "DEFAULT_FROM_EMAIL", str, "",
        "the sender of every mail, such as `kubeblog <blog@example.com>`",
        shown_default="`noreply@` and the first of `ALLOWED_HOSTS`",
    ),
    Variable(
        "MODERATION_MAIL_DELAY", int, 60,
        "seconds after a comment arrives before its post's author is told, so that comments "
        "arriving together go out in one mail",
    ),
    Variable(
        "MODERATION_MAIL_INTERVAL", int, 900,
        "at most one mail about comments awaiting approval per author per this many seconds",
    ),
    Variable(
        "PASSWORD_RESET_TIMEOUT", int, 3600, "seconds a password reset link works (once)"
    ),
    Variable(
        "PASSWORD_RESET_RATE_LIMIT", int, 5,
        "password reset requests per client address, and per e-mail address, per hour",
    ),
    # --- uploaded images: S3-compatible object storage (docs/operations.md, "Images") --------
    Variable(
        "S3_BUCKET", str, REQUIRED,
        "the bucket that uploaded images are kept in; nothing is written to a pod's disk",
        shown_default="none (`make run`: files under `var/media/`)",
    ),
    Variable(
        "MEDIA_URL", str, REQUIRED,
        "the public URL of the bucket, or of a CDN in front of it, ending in `/`; images are "
        "served from there and the Content-Security-Policy allows images from its origin",
        shown_default="none (`make run`: `/media/`)",
    ),
    Variable(
        "S3_ENDPOINT_URL", str, "",
        "the object store's S3 API, such as `https://storage.googleapis.com` or a Ceph RGW; "
        "empty for AWS S3",
    ),
    Variable("S3_REGION", str, "", "the bucket's region; empty lets the SDK choose"),
    Variable(
        "S3_ADDRESSING_STYLE", str, "auto",
        "`path` (SeaweedFS, Ceph RGW, MinIO), `virtual` or `auto` (AWS S3)",
    ),
    Variable(
        "S3_ACCESS_KEY_ID", str, "",
        "the key that may write to the bucket; empty uses the SDK's own chain (IRSA, "
        "workload identity, instance profile)", secret=True,
    ),
    Variable("S3_SECRET_ACCESS_KEY", str, "", "that key's secret", secret=True),
    Variable(
        "S3_TIMEOUT", float, 5.0,
        "seconds to connect to or hear from the object store before an upload fails cleanly",
    ),
    Variable("IMAGE_MAX_BYTES", int, 10_000_000, "the largest image file an author may upload"),
    Variable(
        "IMAGE_MAX_PIXELS", int, 40_000_000,
        "the most pixels (width x height x frames) an uploaded image may decode to; larger "
        "ones are refused before they are decoded",
    ),
    # --- the task worker (`python manage.py worker`; docs/operations.md, "The worker") ------
    Variable(
        "TASK_TIME_LIMIT", float, 60.0,
        "seconds one task may run; past it the worker hands the task back and restarts",
    ),
    Variable(
        "TASK_MAX_ATTEMPTS", int, 10,
        "attempts before a failing task stops, as failed (visible in the admin and metrics)",
    ),
    Variable(
        "TASK_RETRY_DELAY", float, 10.0,
        "seconds before the first retry of a failed task; each later one waits twice as "
        "long, at most an hour",
    ),
    Variable(
        "WORKER_SHUTDOWN_TIMEOUT", float, 20.0,
        "seconds a worker given SIGTERM lets its task finish before handing it back to the "
        "queue and exiting",
    ),
    Variable(
        "WORKER_POLL_INTERVAL", float, 1.0,
        "seconds an idle worker waits between looks at the queue",
    ),
    # --- traces: OpenTelemetry's standard variables (ops/tracing.py; off unless configured) ---
    Variable(
        "OTEL_EXPORTER_OTLP_ENDPOINT", str, "",
        "an OTLP/HTTP collector such as `http://otel-collector:4318`: setting it turns traces on",
    ),
    Variable(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", str, "",
        "the same, for traces only (the full URL, `…/v1/traces`)",
    ),
    Variable(
        "OTEL_TRACES_EXPORTER", list, [],
        "`otlp`, `console` or `none`; empty: `otlp` when an endpoint is set, else no traces",
    ),
    Variable("OTEL_SDK_DISABLED", bool, False, "`true` turns traces off, whatever else is set"),
    Variable(
        "OTEL_SERVICE_NAME", str, "", "the service name in traces",
        shown_default="`kubeblog`",
    ),
    Variable(
        "OTEL_RESOURCE_ATTRIBUTES", str, "",
        "more resource attributes, `key=value,…` (for example `deployment.environment=prod`)",
    ),
    Variable(
        "OTEL_PYTHON_DJANGO_EXCLUDED_URLS", str, "",
        "paths that make no span", shown_default="the probes, `/metrics` and `/whoami`",
    ),
    Variable(
        "OTEL_EXPORTER_OTLP_HEADERS", str, "",
        "headers sent to the collector, such as an API key: `key=value,…`",
        secret=True, read_by="the OpenTelemetry SDK",
    ),
    Variable(
        "OTEL_TRACES_SAMPLER", str, "",
        "which requests are traced, e.g. `parentbased_traceidratio`",
        shown_default="`parentbased_always_on`", read_by="the OpenTelemetry SDK",
    ),
    Variable(
        "OTEL_TRACES_SAMPLER_ARG", str, "", "the sampler's argument, e.g. `0.1` for 10 %",
        read_by="the OpenTelemetry SDK",
    ),
    # --- the ensure_superuser command ------------------------------------------------------
    Variable(
        "DJANGO_SUPERUSER_USERNAME", str, "",
        "the first administrator, created or updated by `python manage.py ensure_superuser`",
    ),
    Variable(
        "DJANGO_SUPERUSER_PASSWORD", str, "", "that administrator's password", secret=True
    ),
    Variable("DJANGO_SUPERUSER_EMAIL", str, "", "that administrator's e-mail address"),
)  # fmt: skip

DECLARED = {variable.name: variable for variable in VARIABLES}


class DeclaredEnv(environ.Env):
    """django-environ's reader, limited to the declared variables, with their casts and
    defaults; a caller may still give another default (the local settings do)."""

    def get_value(self, var, cast=None, default=environ.Env.NOTSET, parse_default=False):
        if var not in DECLARED:
            raise ImproperlyConfigured(f"{var} is not declared in config/env.py")
        return super().get_value(var, cast=cast, default=default, parse_default=parse_default)


env = DeclaredEnv(
    **{
        v.name: v.cast if v.required else (v.cast, v.default)
        for v in VARIABLES
        if v.name != "DJANGO_SETTINGS_MODULE"  # Django reads it itself
    }
)


def markdown_table() -> str:
    """The README's configuration table."""
    rows = [
        "| variable | required | default | meaning |",
        "|---|---|---|---|",
        *(
            f"| `{v.name}` | {'yes' if v.required else ''} | {v.default_text()} | {v.meaning} |"
            for v in VARIABLES
        ),
    ]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown_table())
