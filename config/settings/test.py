"""The test suite: SQLite unless DATABASE_URL points at the PostgreSQL the test run started."""

import warnings

from config.env import env

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "test-only-not-a-secret"  # noqa: S105
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]

DATABASES = {"default": env.db_url_config(env("DATABASE_URL", default="") or "sqlite:///:memory:")}
# Tests run inside transactions and need no pool; the pool itself is exercised by the
# tests that start real gunicorn processes with the production settings.
DATABASES["default"]["TEST"] = {"NAME": None}

EMAIL_HOST = "console"  # pytest-django sends every mail of the test process to mail.outbox
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
METRICS_ON_APP_PORT = True
LOG_LEVEL = "WARNING"
# Most tests look at pages right after changing data inside one transaction, where the page
# cache's on-commit invalidation never runs; the page cache tests switch it on themselves.
APP_PAGE_CACHE = False
# Each test can count comments without tripping the per-IP limit set for real traffic.
COMMENT_RATE_LIMIT = 1000

# Static files come from the app folders through WhiteNoise's finders; no collectstatic here.
WHITENOISE_USE_FINDERS = True
warnings.filterwarnings("ignore", message="No directory at", module="whitenoise.base")

# Flags migrations that would break the previous release during a rolling update.
INSTALLED_APPS = [*INSTALLED_APPS, "django_migration_linter"]  # noqa: F405
MIGRATION_LINTER_OPTIONS = {
    # Third-party apps, django-tasks-db included: its history creates the queue table, new
    # and empty on a first deploy; a new release of it gets read before it is upgraded.
    "exclude_apps": ["admin", "auth", "contenttypes", "sessions", "axes", "django_tasks_database"]
}
MIGRATION_LINTER_OPTIONS["ignore_name"] = ["0005_creation_token_unique"]  # safe: see its docstring
