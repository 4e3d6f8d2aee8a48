"""A laptop: SQLite under var/, debug pages, no secrets needed."""

import warnings

from config.env import env

from .base import *  # noqa: F403
from .base import (
    BASE_DIR,
    CONTENT_SECURITY_POLICY,
    STORAGES,
    database_from_url,
    email_backend,
    media_origin,
    media_storage,
)

DEBUG = env("DJANGO_DEBUG")
SECRET_KEY = env("DJANGO_SECRET_KEY", default="local-development-only-not-a-secret")
ALLOWED_HOSTS = env("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

LOCAL_DATA = BASE_DIR / "var"  # the SQLite database and the demo login, git-ignored
LOCAL_DATA.mkdir(exist_ok=True)
DATABASES = {
    "default": database_from_url(
        env("DATABASE_URL", default="") or f"sqlite:///{LOCAL_DATA / 'db.sqlite3'}"
    )
}
METRICS_ON_APP_PORT = True
# Uploaded images: a bucket if one is named, else files under var/media/ served by the app.
S3_BUCKET = env("S3_BUCKET", default="")
MEDIA_ROOT = LOCAL_DATA / "media"
MEDIA_URL = env("MEDIA_URL", default="/media/")
STORAGES = {**STORAGES, "default": media_storage(S3_BUCKET)}
CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"] += media_origin(MEDIA_URL)
# Mail goes to the worker's log unless a relay is named.
EMAIL_HOST = env("EMAIL_HOST", default="console")
EMAIL_BACKEND = email_backend(EMAIL_HOST)

# Static files come from the app folders through WhiteNoise's finders; no collectstatic here.
WHITENOISE_USE_FINDERS = True
warnings.filterwarnings("ignore", message="No directory at", module="whitenoise.base")
