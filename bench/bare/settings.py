"""The bare Django reference: production settings with no middleware and one 10 KB view.

Served by the same gunicorn configuration (config/gunicorn.conf.py: workers, threads, worker
class, JSON access log), so the gap between this and a kubeblog page is what kubeblog's
middleware, cache lookups, queries and templates cost.
"""

from config.settings.production import *  # noqa: F403

MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.bare.urls"
