"""JSON log lines with the request id, replica and version on every line."""

import contextvars
import functools
import json
import logging
import re
from datetime import UTC, datetime

from django.conf import settings

from ops import tracing

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

# Values that must never reach a log line, whatever a message or exception carries.
_SECRET_PATTERNS = [
    re.compile(
        r"(?i)(sessionid|csrftoken|csrfmiddlewaretoken|password|secret[_-]?key)"
        r"([\"']?\s*[=:]\s*[\"']?)([^\s&;,\"']+)"
    ),
    re.compile(r"(?i)(postgres(?:ql)?|redis)://([^:/\s]+):([^@\s]+)@"),
]


def scrub(text: str) -> str:
    """Replace secret-looking values (cookies, passwords, URL credentials) and this site's own
    secrets (the secret key, the database password) with ***."""
    text = _SECRET_PATTERNS[0].sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    text = _SECRET_PATTERNS[1].sub(lambda m: f"{m.group(1)}://{m.group(2)}:***@", text)
    for secret in _configured_secrets():
        text = text.replace(secret, "***")
    return text


@functools.cache
def _configured_secrets() -> tuple[str, ...]:
    if not settings.configured:
        return ()
    values = [
        getattr(settings, "SECRET_KEY", ""),
        *getattr(settings, "SECRET_KEY_FALLBACKS", []),
        *(db.get("PASSWORD", "") for db in getattr(settings, "DATABASES", {}).values()),
    ]
    return tuple(value for value in values if value and len(value) >= 8)


class RequestContextFilter(logging.Filter):
    """Attach the current request id to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and context."""

    _EXTRA = (
        *("request_id", "path", "method", "status", "duration_ms", "view"),
        *("worker_id", "task", "task_id", "attempt", "outcome"),  # ops.worker
        *("mail_key", "message_id", "mail_to", "mail_body"),  # ops.mail
    )

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
            "replica": getattr(settings, "POD_NAME", None),
            "version": getattr(settings, "APP_VERSION", None),
        }
        for key in self._EXTRA:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        ids = tracing.current_ids()
        if ids is not None:
            entry["trace_id"], entry["span_id"] = ids
        if record.exc_info:
            entry["exception"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)
