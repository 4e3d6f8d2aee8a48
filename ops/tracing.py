"""Traces with OpenTelemetry, off unless the standard OTEL_* variables turn them on.

On when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, or
`OTEL_TRACES_EXPORTER` names an exporter (`otlp`, `console`); off when `OTEL_SDK_DISABLED=true`
or `OTEL_TRACES_EXPORTER=none`. Everything else is the SDK's own reading of the environment:
`OTEL_SERVICE_NAME` (default here `kubeblog`), `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`
and its argument, `OTEL_EXPORTER_OTLP_*` (endpoint, headers, timeout), `OTEL_BSP_*`.

What makes spans, in every process that calls `start()` (config/wsgi.py for gunicorn, where the
master starts it before forking: the batch processor starts anew in each worker; and
`manage.py worker`):
- Django: one server span per request, named by its route. Its URL attributes are the route
  (`/accounts/reset/<uidb64>/<token>/`), never the path or query the client sent, which may
  carry a reset token; the probes and /metrics make no span.
- psycopg: a span per SQL statement, its text with placeholders, never its parameters.
- Redis: a span per command, its arguments replaced by `?` (keys name sessions).
- Tasks: the trace context of the request that queues a task is stored with it, and the
  worker's span for the task joins that trace (`task_enqueued` below; ops.worker).
Header capture, if an operator turns it on, never keeps cookies, authorisation or tokens.
"""

from __future__ import annotations

import contextlib
import logging
import os

from config.env import env

logger = logging.getLogger("ops.tracing")

EXPORTERS = ("otlp", "console")
SENSITIVE_HEADERS = "cookie,set-cookie,authorization,proxy-authorization,x-csrftoken,.*token.*"
URL_ATTRIBUTES = ("http.url", "http.target", "url.full", "url.path", "url.query")
UNTRACED_PATHS = "healthz,readyz,metrics,whoami"
ENVIRON_KEY = "kubeblog.trace_ids"

_started = False


def enabled() -> bool:
    if env("OTEL_SDK_DISABLED"):
        return False
    exporters = _exporters()
    if exporters:
        return any(e in EXPORTERS for e in exporters)
    return bool(env("OTEL_EXPORTER_OTLP_ENDPOINT") or env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def _exporters() -> list[str]:
    return [e.strip() for e in env("OTEL_TRACES_EXPORTER") if e.strip()]


def start(tracer_provider=None) -> bool:
    """Turn traces on in this process if the environment asks for them: whether it did.

    Call it before the WSGI handler is built (the Django middleware joins the chain then).
    `tracer_provider` is for tests; otherwise the global provider is set from the environment.
    """
    global _started
    if _started or (tracer_provider is None and not enabled()):
        return _started
    from opentelemetry import trace
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    os.environ.setdefault(
        "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS", SENSITIVE_HEADERS
    )
    if tracer_provider is None:
        tracer_provider = _provider_from_environment()
        trace.set_tracer_provider(tracer_provider)
    excluded = None if env("OTEL_PYTHON_DJANGO_EXCLUDED_URLS") else UNTRACED_PATHS
    DjangoInstrumentor().instrument(
        tracer_provider=tracer_provider, response_hook=_response_hook, excluded_urls=excluded
    )
    PsycopgInstrumentor().instrument(tracer_provider=tracer_provider, enable_commenter=False)
    RedisInstrumentor().instrument(tracer_provider=tracer_provider)
    _started = True
    logger.info("traces on")
    return True


def stop() -> None:
    """Undo start() (tests)."""
    global _started
    if not _started:
        return
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    for instrumentor in (DjangoInstrumentor(), PsycopgInstrumentor(), RedisInstrumentor()):
        instrumentor.uninstrument()
    _started = False


def _provider_from_environment():
    from django.conf import settings
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    attributes = {
        "service.version": settings.APP_VERSION,
        "service.instance.id": settings.POD_NAME,
    }
    if not env("OTEL_SERVICE_NAME") and "service.name=" not in env("OTEL_RESOURCE_ATTRIBUTES"):
        attributes[SERVICE_NAME] = "kubeblog"
    provider = TracerProvider(resource=Resource.create(attributes))  # sampler: OTEL_TRACES_SAMPLER
    for name in _exporters() or ["otlp"]:
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        elif name == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    return provider


def _response_hook(span, request, response) -> None:
    """The request's URL attributes become its route (a path or a query may carry a secret);
    the access log line (ops.gunicorn_logging) gets the span's ids through the environ."""
    if not span.is_recording():
        return
    match = getattr(request, "resolver_match", None)
    route = "/" + match.route if match is not None and match.route else "(unmatched)"
    for key in URL_ATTRIBUTES:
        span.set_attribute(key, route if key != "url.query" else "")
    context = span.get_span_context()
    request.META[ENVIRON_KEY] = (f"{context.trace_id:032x}", f"{context.span_id:016x}")


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the current span, in hex, for log lines; None outside one."""
    if not _started:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


# --- tasks ---------------------------------------------------------------------------------------
TRACE_KEY = "trace"  # beside "args" and "kwargs" in django-tasks-db's args_kwargs


def carry_into_task(task_id) -> None:
    """Store the current trace context with a task just enqueued (same transaction)."""
    if not _started:
        return
    from django_tasks_db.models import DBTaskResult
    from opentelemetry.propagate import inject

    carrier: dict[str, str] = {}
    inject(carrier)
    if not carrier:
        return
    row = DBTaskResult.objects.filter(pk=task_id).only("args_kwargs").first()
    if row is not None:
        DBTaskResult.objects.filter(pk=task_id).update(
            args_kwargs={**row.args_kwargs, TRACE_KEY: carrier}
        )


@contextlib.contextmanager
def task_span(name: str, task_id: str, attempt: int, args_kwargs: dict):
    """A span for one attempt of a task, in the trace of the request that queued it."""
    if not _started:
        yield None
        return
    from opentelemetry import trace
    from opentelemetry.propagate import extract

    parent = extract(args_kwargs.get(TRACE_KEY) or {})
    tracer = trace.get_tracer("ops.worker")
    with tracer.start_as_current_span(
        f"task {name}",
        context=parent,
        kind=trace.SpanKind.CONSUMER,
        attributes={
            "kubeblog.task.name": name,
            "kubeblog.task.id": task_id,
            "kubeblog.task.attempt": attempt,
        },
    ) as span:
        yield span


def _on_task_enqueued(sender, task_result, **kwargs) -> None:
    carry_into_task(task_result.id)


def connect_signals() -> None:
    from django_tasks.signals import task_enqueued

    task_enqueued.connect(_on_task_enqueued, dispatch_uid="ops.tracing")
