"""Production: every value from the environment; a missing required one stops start-up.

Behind a TLS-terminating proxy (ingress, load balancer) that sets X-Forwarded-Proto.
"""

from config.env import env

from .base import *  # noqa: F403
from .base import (
    CONTENT_SECURITY_POLICY,
    database_from_url,
    email_backend,
    media_origin,
    media_storage,
)

DEBUG = False

# No default, ever: a generated key would differ per replica and break every signed cookie.
SECRET_KEY = env("DJANGO_SECRET_KEY")
SECRET_KEY_FALLBACKS = env("DJANGO_SECRET_KEY_FALLBACKS")
ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env("CSRF_TRUSTED_ORIGINS")
DATABASES = {"default": database_from_url(env("DATABASE_URL"))}
EMAIL_HOST = env("EMAIL_HOST")
EMAIL_BACKEND = email_backend(EMAIL_HOST)

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env("SECURE_SSL_REDIRECT")
SECURE_HSTS_SECONDS = env("SECURE_HSTS_SECONDS")
SECURE_HSTS_INCLUDE_SUBDOMAINS = env("SECURE_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = env("SECURE_HSTS_PRELOAD")
SESSION_COOKIE_SECURE = env("SECURE_COOKIES")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# Uploaded images live in the bucket, never on a pod's disk.
MEDIA_URL = env("MEDIA_URL")
STORAGES = {
    "default": media_storage(env("S3_BUCKET")),
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"] += media_origin(MEDIA_URL)
WHITENOISE_MAX_AGE = 31_536_000  # hashed names never change content: cache them for a year
