"""Production settings plus one slow test-only URL, for shutdown tests on a real gunicorn."""

from config.settings.production import *  # noqa: F403

ROOT_URLCONF = "harness.slow_urls"
