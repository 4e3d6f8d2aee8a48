"""Traces from real processes (gunicorn with the production settings, a task worker) to a real
OTLP/HTTP receiver, turned on by the standard OTEL_* variables only."""

import pytest
import requests

from harness.gunicorn import Gunicorn, site_with_editor
from harness.http import login, post_url, submit_form
from harness.otlp import OtlpReceiver
from harness.worker import WorkerProcess

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

HOST = {"Host": "localhost"}
EDITOR = ("tracer", "a-password-no-span-may-carry-42")
SERVER, CONSUMER = 2, 5  # the protocol's SpanKind numbers


@pytest.fixture(scope="module")
def site(pg_server, redis_server):
    with OtlpReceiver() as otlp:
        env = site_with_editor(
            pg_server.url,
            EDITOR,
            REDIS_URL=redis_server.url,
            DJANGO_SUPERUSER_EMAIL="tracer@example.com",
            MODERATION_MAIL_DELAY="0",
            **otlp.env("kubeblog-web"),
        )
        with Gunicorn(env) as app:
            yield app, otlp, pg_server


def _server_span(otlp, route_part: str):
    """The server spans of requests whose route contains `route_part`."""
    found = otlp.wait_for(
        lambda spans: any(s.kind == SERVER and route_part in s.name for s in spans)
    )
    return [s for s in found if s.kind == SERVER and route_part in s.name]


def _is_post(span, route_part: str) -> bool:
    method = span.attributes.get("http.method", span.attributes.get("http.request.method"))
    return span.kind == SERVER and route_part in span.name and method == "POST"


def test_a_request_is_one_trace_with_its_sql_and_cache_spans_and_carries_no_secret(site):
    app, otlp, _ = site
    session = requests.Session()
    assert login(session, app.url, *EDITOR, HOST).status_code == 302
    answer = session.get(f"{app.url}/drafts/", headers={**HOST, "X-Request-ID": "traced-1"})
    assert answer.status_code == 200
    reset = session.get(f"{app.url}/accounts/reset/MQ/a-secret-reset-token/", headers=HOST)
    assert reset.status_code in (200, 302)

    [drafts] = _server_span(otlp, "drafts")
    assert drafts.attributes.get("http.target", drafts.attributes.get("url.path")) == "/drafts/"
    spans = otlp.wait_for(lambda spans: sum(s.trace_id == drafts.trace_id for s in spans) >= 3)
    trace = [s for s in spans if s.trace_id == drafts.trace_id]
    assert {s.service for s in trace} == {"kubeblog-web"}
    sql = [s for s in trace if s.attributes.get("db.system") == "postgresql"]
    cache = [s for s in trace if s.attributes.get("db.system") == "redis"]
    assert sql and cache, [(s.name, s.attributes) for s in trace]
    assert all(s.parent_id for s in sql + cache)  # children of the request, not traces of their own

    # The JSON log line of the request names its trace.
    def access_line(lines):
        return [x for x in lines if x.get("request_id") == "traced-1" and x.get("trace_id")]

    app.wait_for_log(access_line)
    [line] = access_line(app.json_lines())
    assert line["trace_id"] == drafts.trace_id

    # Nothing secret in any span: the password sent to log in, the session and CSRF cookies,
    # a reset token in a path.
    secrets = [EDITOR[1], session.cookies["sessionid"], session.cookies["csrftoken"]]
    secrets.append("a-secret-reset-token")
    for span in otlp.wait_for(lambda spans: any("reset" in s.name for s in spans)):
        for key, value in span.attributes.items():
            assert not any(secret in str(value) for secret in secrets), (span.name, key, value)
        assert not any(secret in span.name for secret in secrets)


def test_a_task_joins_the_trace_of_the_request_that_queued_it(site):
    app, otlp, pg = site
    session = requests.Session()
    assert login(session, app.url, *EDITOR, HOST).status_code == 302
    post = submit_form(session, f"{app.url}/post/new/", {"title": "Traced", "body": "b"}, HOST)
    path = post.headers["Location"]
    submit_form(session, app.url + post_url(path, "publish"), {}, HOST)
    comment = submit_form(
        requests.Session(),
        app.url + post_url(path, "comment"),
        {"author_name": "Reader", "text": "Traced comment"},
        HOST,
    )
    assert comment.status_code == 302
    # The form's GET and its POST are both spans on this route; wait for the POST's.
    spans = otlp.wait_for(lambda spans: any(_is_post(s, "comment") for s in spans))
    [request] = [s for s in spans if _is_post(s, "comment")]
    worker = WorkerProcess(pg.url, **otlp.env("kubeblog-worker"))
    with worker:
        spans = otlp.wait_for(
            lambda spans: (
                {"task tell_author_of_pending_comments", "task deliver_mail"}
                <= {s.name for s in spans if s.trace_id == request.trace_id}
            ),
            30,
        )
    tasks = [s for s in spans if s.trace_id == request.trace_id and s.kind == CONSUMER]
    assert {s.name for s in tasks} == {
        "task tell_author_of_pending_comments",
        "task deliver_mail",
    }, [(s.name, s.trace_id) for s in spans if s.kind == CONSUMER]
    assert {s.service for s in tasks} == {"kubeblog-worker"}
