"""The test suite: SQLite unless DATABASE_URL points at the PostgreSQL the test run started."""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = "test-only-not-a-secret"  # noqa: S105
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default="sqlite:///:memory:"),
}
# Tests run inside transactions and need no pool; the pool itself is exercised by the
# tests that start real gunicorn processes with the production settings.
DATABASES["default"]["TEST"] = {"NAME": None}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
METRICS_ON_APP_PORT = True
LOG_LEVEL = "WARNING"
