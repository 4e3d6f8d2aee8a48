"""gunicorn's logs as JSON lines, like the application's."""

import json
import logging
from datetime import UTC, datetime

from gunicorn import glogging

from ops.logging import JsonFormatter
from ops.tracing import ENVIRON_KEY


class JsonLogger(glogging.Logger):
    """Access lines as JSON objects (with the request id the app returned); errors likewise."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for handler in self.error_log.handlers + self.access_log.handlers:
            handler.setFormatter(
                _MessageOnly() if handler in self.access_log.handlers else JsonFormatter()
            )

    def access(self, resp, req, environ, request_time) -> None:
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        headers = {name.lower(): value for name, value in resp.headers}
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": "INFO",
            "logger": "gunicorn.access",
            "message": "request",
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "status": int(status),
            "duration_ms": round(request_time.total_seconds() * 1000, 2),
            "bytes": getattr(resp, "sent", None),
            "request_id": headers.get("x-request-id"),
            "remote": environ.get("REMOTE_ADDR"),
            "user_agent": environ.get("HTTP_USER_AGENT"),
        }
        entry.update(_identity())
        trace_ids = environ.get(ENVIRON_KEY)  # a traced request (ops.tracing)
        if trace_ids:
            entry["trace_id"], entry["span_id"] = trace_ids
        self.access_log.info(json.dumps(entry, ensure_ascii=False))


class _MessageOnly(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage()


def _identity() -> dict:
    from ops.replica import identity

    ident = identity()
    return {"replica": ident["replica"], "version": ident["version"]}
