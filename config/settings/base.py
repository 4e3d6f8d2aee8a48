"""Settings shared by every environment; each environment module imports * from here.

Every value that differs between environments is read from the environment through
config.env, where each variable is declared once with its type, default and meaning.
"""

import base64
import hashlib
import re
import socket
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from config.env import env
from ops.deadlines import PooledConnection

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# --- identity of this replica (shown on every page and by /whoami) -------------------------
APP_VERSION = env("APP_VERSION")
POD_NAME = env("POD_NAME") or socket.gethostname()
THEME_COLOR = env("THEME_COLOR")

if not re.fullmatch(r"#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,30}", THEME_COLOR):
    raise ImproperlyConfigured(
        f"THEME_COLOR must be a CSS colour name or #hex value, got {THEME_COLOR!r}"
    )

# The header colour is the one piece of inline CSS; the CSP allows exactly this text by hash,
# so no other inline style can run and the page stays cacheable (no per-response nonce).
THEME_STYLE = f":root{{--theme:{THEME_COLOR}}}"
THEME_STYLE_HASH = (
    "'sha256-" + base64.b64encode(hashlib.sha256(THEME_STYLE.encode()).digest()).decode() + "'"
)

# --- core -------------------------------------------------------------------------------------
DEBUG = False
ALLOWED_HOSTS: list[str] = []

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django.contrib.postgres",
    "axes",
    "csp",
    "django_tasks",
    "django_tasks_db",
    "ops",
    "blog",
]

MIDDLEWARE = [
    # Outermost, so that every response that did not choose its caching is private.
    "ops.middleware.PrivateByDefaultMiddleware",
    # Probes answer before host validation, HTTPS redirects, sessions or request metrics.
    "ops.probes.ProbeMiddleware",
    "ops.middleware.RequestContextMiddleware",
    # Every request's PostgreSQL work gets a deadline, even against a frozen server.
    "ops.deadlines.RequestDeadlineMiddleware",
    # A read that met a failover of PostgreSQL is tried once more (never a write).
    "ops.failover.ReadRetryMiddleware",
    # Stored anonymous pages are answered here, before the middleware below runs again.
    "ops.pagecache.PageCacheMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "ops.error_pages.MethodNotAllowedPageMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "ops.context_processors.replica",
                "blog.context_processors.comments_awaiting",
            ],
        },
    },
]

# --- database ---------------------------------------------------------------------------------
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def database_from_url(url: str) -> dict:
    """Build the default database from DATABASE_URL; PostgreSQL gets psycopg's pool."""
    db = env.db_url_config(url)
    if db["ENGINE"] == "django.db.backends.postgresql":
        options = db.setdefault("OPTIONS", {})
        options.setdefault("connect_timeout", env("DATABASE_CONNECT_TIMEOUT"))
        # A dead peer or a cut network is noticed in seconds, not hours: TCP keepalives, and
        # at most 5 s for data sent and not acknowledged (libpq; Linux).
        options.update(
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=3,
            keepalives_count=3,
            tcp_user_timeout=5000,
        )
        # Django's backend, whose wait for a pooled connection ends by the request's deadline.
        db["ENGINE"] = "ops.postgresql"
        options["pool"] = {
            "min_size": env("DATABASE_POOL_MIN_SIZE"),
            "max_size": env("DATABASE_POOL_MAX_SIZE"),
            # How long a request waits for a connection before the page answers 503.
            "timeout": env("DATABASE_POOL_TIMEOUT"),
            "max_idle": 300,
            # Give up a failing reconnect loop quickly (psycopg's backoff doubles without a
            # cap); the next request that needs a connection starts a fresh attempt, so the
            # pool reconnects within a request of PostgreSQL coming back.
            "reconnect_timeout": env("DATABASE_POOL_RECONNECT_TIMEOUT"),
            # Whose health check has a deadline of its own (ops.deadlines).
            "connection_class": PooledConnection,
        }
        # The pool checks each connection before handing it out, so one broken by a
        # PostgreSQL restart is replaced instead of failing a request.
        db["CONN_HEALTH_CHECKS"] = True
        # PgBouncer in transaction mode cannot keep a server-side cursor across statements.
        behind_pgbouncer = env("DATABASE_PGBOUNCER")
        db["DISABLE_SERVER_SIDE_CURSORS"] = behind_pgbouncer
        if behind_pgbouncer:
            # Nor keep prepared statements across transactions (psycopg prepares none with
            # Django's client-side binding anyway; this keeps it so if that ever changes).
            # Nor take startup options: the timeouts are set on the role (migrate_locked).
            options["prepare_threshold"] = None
        else:
            options["options"] = " ".join(f"-c {k}={v}" for k, v in session_timeouts().items())
            # Straight to PostgreSQL: only a server that takes writes will do, never a standby
            # (libpq checks after connecting), so no write lands on a demoted primary after a
            # failover. A URL's own `?target_session_attrs=` wins.
            options.setdefault("target_session_attrs", "read-write")
    return db


def session_timeouts() -> dict[str, str]:
    """PostgreSQL's own limits for the app's sessions, in milliseconds."""
    return {
        "statement_timeout": str(int(env("DATABASE_STATEMENT_TIMEOUT") * 1000)),
        "lock_timeout": str(int(env("DATABASE_LOCK_TIMEOUT") * 1000)),
        "idle_in_transaction_session_timeout": str(
            int(env("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT") * 1000)
        ),
    }


REQUEST_DEADLINE = env("REQUEST_DEADLINE")
DATABASE_POOL_TIMEOUT = env("DATABASE_POOL_TIMEOUT")
DATABASE_FAILOVER_WINDOW = env("DATABASE_FAILOVER_WINDOW")


# --- cache and sessions -----------------------------------------------------------------------
def cache_from_url(url: str) -> dict:
    """Redis when REDIS_URL is set (failures degrade to misses), else per-process memory."""
    if not url:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": url,
        "KEY_PREFIX": "kubeblog",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            # Every command through this process's circuit breaker (ops.cache).
            "REDIS_CLIENT_CLASS": "ops.cache.BreakerRedis",
            # JSON signed with the site's key: nothing read back can run code (ops.cache).
            "SERIALIZER": "ops.cache.SignedJSONSerializer",
            # A dead or stalled Redis costs a request at most these timeouts, never an error,
            # and only until the breaker opens.
            "SOCKET_CONNECT_TIMEOUT": env("REDIS_CONNECT_TIMEOUT"),
            "SOCKET_TIMEOUT": env("REDIS_TIMEOUT"),
            "IGNORE_EXCEPTIONS": True,
        },
    }


DJANGO_REDIS_IGNORE_EXCEPTIONS = True
# Failures are counted and logged once per change by the breaker (ops.cache), not per call.
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = False

REDIS_URL = env("REDIS_URL")
CACHES = {"default": cache_from_url(REDIS_URL)}

SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"

# Anonymous pages: shared caches (CDN, edge) may keep them PUBLIC_PAGE_TTL seconds and serve
# them stale while revalidating for PUBLIC_PAGE_SWR more; the app cache keeps them as long.
PUBLIC_PAGE_TTL = env("PUBLIC_PAGE_TTL")
PUBLIC_PAGE_SWR = env("PUBLIC_PAGE_SWR")
PUBLIC_PAGE_STALE_IF_ERROR = env("PUBLIC_PAGE_STALE_IF_ERROR")
APP_PAGE_CACHE = env("APP_PAGE_CACHE")

# --- auth -------------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "post_list"
LOGOUT_REDIRECT_URL = "post_list"

# Login brute force (docs/security.md "Logging in"). Usernames are printed on every post, so
# failures lock the (username, client address) pair, never the username: after
# AXES_FAILURE_LIMIT failures that pair is refused for AXES_COOLOFF_MINUTES, and the author
# still logs in from anywhere else. ops.login_throttle refuses an address that fails
# LOGIN_ADDRESS_FAILURE_LIMIT times over any usernames (credential stuffing), and slows a
# username down once it has failed LOGIN_SLOWDOWN_AFTER times from anywhere: from then on each
# failure makes the next attempt wait 1 s, 2 s, 4 s ... at most LOGIN_SLOWDOWN_MAX_WAIT seconds.
AXES_FAILURE_LIMIT = env("AXES_FAILURE_LIMIT")
AXES_COOLOFF_TIME = env("AXES_COOLOFF_MINUTES") / 60
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = "ops.login_throttle.LoginThrottleHandler"
LOGIN_ADDRESS_FAILURE_LIMIT = env("LOGIN_ADDRESS_FAILURE_LIMIT")
LOGIN_SLOWDOWN_AFTER = env("LOGIN_SLOWDOWN_AFTER")
LOGIN_SLOWDOWN_MAX_WAIT = 60
# A refused attempt checks no password, so it is no failure: it neither extends a lock nor
# counts toward another one.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_LOCKOUT_CALLABLE = "ops.login_throttle.lockout_response"  # 429 with Retry-After
AXES_CLIENT_IP_CALLABLE = "ops.client_ip.client_ip_for_axes"
# How many proxies (ingress controller, load balancer) sit between clients and the app.
TRUSTED_PROXY_COUNT = env("TRUSTED_PROXY_COUNT")
AXES_VERBOSE = False

# --- tasks and e-mail (docs/operations.md, "The worker" and "E-mail") ---------------------------
# Work that leaves the request path is queued in PostgreSQL, in the same transaction as the
# change that asks for it, and run by `python manage.py worker` (ops.worker).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
TASK_TIME_LIMIT = env("TASK_TIME_LIMIT")
TASK_MAX_ATTEMPTS = env("TASK_MAX_ATTEMPTS")
TASK_RETRY_DELAY = env("TASK_RETRY_DELAY")
WORKER_SHUTDOWN_TIMEOUT = env("WORKER_SHUTDOWN_TIMEOUT")
WORKER_POLL_INTERVAL = env("WORKER_POLL_INTERVAL")

# Only tasks send mail (ops.mail), through the relay, or to the log when EMAIL_HOST=console.
SITE_URL = env("SITE_URL")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL")
EMAIL_PORT = env("EMAIL_PORT")
EMAIL_USE_TLS = env("EMAIL_USE_TLS")
EMAIL_USE_SSL = env("EMAIL_USE_SSL")
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_TIMEOUT = env("EMAIL_TIMEOUT")
MODERATION_MAIL_DELAY = env("MODERATION_MAIL_DELAY")
MODERATION_MAIL_INTERVAL = env("MODERATION_MAIL_INTERVAL")
PASSWORD_RESET_TIMEOUT = env("PASSWORD_RESET_TIMEOUT")
PASSWORD_RESET_RATE_LIMIT = env("PASSWORD_RESET_RATE_LIMIT")


def email_backend(host: str) -> str:
    return (
        "ops.mail.LogBackend"
        if host == "console"
        else "django.core.mail.backends.smtp.EmailBackend"
    )


# --- input limits -----------------------------------------------------------------------------
POST_BODY_MAX_CHARS = 1_000_000
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # a 1 MB Markdown body, form-encoded, fits
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200
DATA_UPLOAD_MAX_NUMBER_FILES = 1  # one image per form
# Uploads stay in memory, up to IMAGE_MAX_BYTES each; a larger file is read and thrown away,
# and its form says so (blog.uploads). Nothing is written to a pod's disk.
FILE_UPLOAD_HANDLERS = ["blog.uploads.ImageUploadHandler"]
IMAGE_MAX_BYTES = env("IMAGE_MAX_BYTES")
IMAGE_MAX_PIXELS = env("IMAGE_MAX_PIXELS")
SEARCH_QUERY_MAX_CHARS = 200
COMMENT_RATE_LIMIT = env("COMMENT_RATE_LIMIT")  # comments per IP ...
COMMENT_RATE_WINDOW = env("COMMENT_RATE_WINDOW")  # ... per this many seconds

# --- i18n, static -----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env("STATIC_ROOT") or str(BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


def media_storage(bucket: str) -> dict:
    """Uploaded images: the S3-compatible bucket, or the local disk (MEDIA_ROOT) without one.

    Objects are written once under names the server makes (blog.images) and never
    overwritten, so each is cached for a year; pages link to MEDIA_URL, never to a signed
    URL, so rendering a page never calls the object store."""
    if not bucket:
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    from botocore.config import Config

    timeout = env("S3_TIMEOUT")
    style = env("S3_ADDRESSING_STYLE")
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": env("S3_ENDPOINT_URL") or None,
            "region_name": env("S3_REGION") or None,
            "access_key": env("S3_ACCESS_KEY_ID") or None,
            "secret_key": env("S3_SECRET_ACCESS_KEY") or None,
            "addressing_style": None if style == "auto" else style,
            "querystring_auth": False,
            "file_overwrite": True,  # names are never reused: no extra HEAD per upload
            "default_acl": None,  # public reading is the bucket's policy (docs/operations.md)
            "object_parameters": {"CacheControl": "public, max-age=31536000, immutable"},
            "client_config": Config(
                connect_timeout=timeout,
                read_timeout=timeout,
                retries={"total_max_attempts": 2, "mode": "standard"},
            ),
        },
    }


def media_origin(media_url: str) -> list[str]:
    """The Content-Security-Policy source for images served from MEDIA_URL."""
    parts = urlsplit(media_url)
    return [f"{parts.scheme}://{parts.netloc}"] if parts.netloc else []


# --- security headers that hold everywhere ----------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "ops.views.csrf_failure"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", THEME_STYLE_HASH],
        # The site's own images and uploaded ones (MEDIA_URL; the settings add its origin);
        # a post cannot make readers' browsers fetch from anywhere else.
        "img-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

# --- logging: one JSON object per line on stdout ----------------------------------------------
LOG_LEVEL = env("LOG_LEVEL")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_context": {"()": "ops.logging.RequestContextFilter"},
        "not_ready_is_routine": {"()": "ops.probes.NotReadyIsRoutine"},
    },
    "formatters": {"json": {"()": "ops.logging.JsonFormatter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
            "filters": ["request_context"],
        },
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # Access lines come from ops.middleware (one per request, with its duration);
        # Django's own per-request warnings would only repeat them.
        "django.request": {"level": "ERROR", "filters": ["not_ready_is_routine"]},
        "django.server": {"level": "ERROR"},
        "django.security.DisallowedHost": {"level": "ERROR"},
    },
}

METRICS_ON_APP_PORT = env("METRICS_ON_APP_PORT")
