"""WSGI entry point; gunicorn serves `config.wsgi:application`."""

from config.startup import load_settings_or_exit

load_settings_or_exit("config.settings.production")

import django  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402

django.setup(set_prefix=False)
# Before the handler loads its middleware, so a traced request's span holds all of it; in
# gunicorn's master, before it forks its workers (ops.tracing).
from ops import tracing  # noqa: E402

tracing.start()
application = WSGIHandler()
