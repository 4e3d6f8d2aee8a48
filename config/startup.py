"""Load settings early and turn a configuration error into one clear line."""

import os
import sys

from django.core.exceptions import ImproperlyConfigured

DEFAULT_SETTINGS = "config.settings.local"


def load_settings_or_exit(default: str = DEFAULT_SETTINGS) -> None:
    """Import the settings module now; on a missing or bad variable, exit with its name."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", default)
    from django.conf import settings

    try:
        settings.INSTALLED_APPS  # noqa: B018 - touching a setting imports the module
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"kubeblog: configuration error: {exc}\n")
        sys.exit(2)
