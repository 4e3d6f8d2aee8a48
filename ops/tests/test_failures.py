"""Dependencies failing under a real gunicorn: PostgreSQL stopped and frozen, Redis frozen.

Each test starts its own PostgreSQL and Redis, and stops, freezes (SIGSTOP) and restarts them
while requests flow. The figures are printed (`pytest -s`); the bounds are the ones
docs/operations.md states ("Deadlines", "When a dependency fails").
"""

import statistics
import threading
import time
import uuid

import pytest
import requests

from harness.gunicorn import Gunicorn, site_with_editor
from harness.http import logged_in, post_url, signed_in_as, submit_form
from harness.load import RequestLoop
from harness.servers import PostgresServer, RedisServer

pytestmark = pytest.mark.slow

HOST = {"Host": "localhost"}
EDITOR = ("editor", "editor-pass-123456")
OUTAGE_SECONDS = 60
FREEZE_SECONDS = 30
QUICK_503 = 3.0  # docs/operations.md: a page that needs the database answers 503 within this
REQUEST_BUDGET = 5.0  # REQUEST_DEADLINE: no request holds a thread longer
LIVENESS_BOUND = 1.0


def _site(pg: PostgresServer, redis: RedisServer, **extra: str) -> dict[str, str]:
    return site_with_editor(pg.url, EDITOR, REDIS_URL=redis.url, **extra)


def _logged_in(app: Gunicorn) -> requests.Session:
    return logged_in(app.url, *EDITOR, HOST)


def _publish(app: Gunicorn, session: requests.Session, title: str) -> str:
    created = submit_form(session, f"{app.url}/post/new/", {"title": title, "body": "x"}, HOST)
    path = created.headers["Location"]
    submit_form(session, app.url + post_url(path, "publish"), {}, HOST)
    return path


def _timed(call) -> tuple[requests.Response | str, float]:
    started = time.monotonic()
    try:
        answer = call()
    except requests.RequestException as exc:
        answer = repr(exc)
    return answer, time.monotonic() - started


def _status(answer) -> int | str:
    return answer if isinstance(answer, str) else answer.status_code


def _live(app: Gunicorn) -> requests.Response:
    return requests.get(f"http://127.0.0.1:{app.metrics_port}/healthz", timeout=5)


def _every(seconds: float, request) -> RequestLoop:
    """`request()` every `seconds`, each outcome recorded with how long it took."""
    return RequestLoop(lambda: _timed(request), interval=seconds, seconds=OUTAGE_SECONDS + 30)


def _needing_the_database(app, session, csrf_token: str) -> list[tuple]:
    """An uncached page, a logged-in page and a write: (what, answer, seconds) each."""
    n = uuid.uuid4().hex[:8]
    write = {"title": f"during the outage {n}", "body": "x", "csrfmiddlewaretoken": csrf_token}
    return [
        ("uncached page", *_timed(lambda: app.get(f"/search/?q=outage{n}", headers=HOST))),
        ("logged-in page", *_timed(lambda: session.get(f"{app.url}/drafts/", headers=HOST))),
        (
            "write",
            *_timed(
                lambda: session.post(
                    f"{app.url}/post/new/",
                    data=write,
                    headers={**HOST, "Referer": f"{app.url}/post/new/"},
                    allow_redirects=False,
                    timeout=10,
                )
            ),
        ),
    ]


def test_postgres_stopped_cached_pages_keep_serving_the_rest_is_a_quick_503():
    with PostgresServer() as pg, RedisServer() as redis:
        # Pages are fresh for 2 s only, so that most of the outage is served stale.
        env = _site(pg, redis, PUBLIC_PAGE_TTL="2")
        with Gunicorn(env) as app:
            session = _logged_in(app)
            post = _publish(app, session, "Written before the outage")
            cached = ["/", post, "/feed/"]
            for path in cached:
                assert app.get(path, headers=HOST).status_code == 200  # now in the page cache
            workers = app.all_workers()
            write_token = session.cookies["csrftoken"]

            pg.stop("fast")
            down = time.monotonic()
            # Readers of each cached page, the probes, and every 5 s what needs the database,
            # side by side for the whole outage.
            loops = {
                **{path: _every(0.5, lambda p=path: app.get(p, headers=HOST)) for path in cached},
                "/readyz": _every(0.5, lambda: app.get("/readyz")),
                "liveness": _every(0.5, lambda: _live(app)),
                "needs the database": _every(
                    5, lambda: _needing_the_database(app, session, write_token)
                ),
            }
            for loop in loops.values():
                loop.start()
            time.sleep(OUTAGE_SECONDS)  # the outage itself
            for loop in loops.values():
                loop.stop()
            outage = time.monotonic() - down
            reads = [(p, *o) for p in cached for _, o in loops[p].outcomes]
            probes = [(p, *o) for p in ("/readyz", "liveness") for _, o in loops[p].outcomes]
            # (what, answer, seconds, sent how long after the stop)
            needs_db = [
                (*x, sent - down) for sent, o in loops["needs the database"].outcomes for x in o[0]
            ]

            pg.start()
            back = time.monotonic()
            fresh_after = None
            for _ in range(200):  # at most about 10 s
                home = app.get("/", headers=HOST)
                if home.status_code == 200 and "X-Served-Stale" not in home.headers:
                    fresh_after = time.monotonic() - back
                    break
                time.sleep(0.05)
            same_workers = app.worker_pids() == workers

    stale = [r for _, r, _ in reads if not isinstance(r, str) and "X-Served-Stale" in r.headers]
    slowest_503 = max(t for _, _, t, _ in needs_db)
    print(
        f"PostgreSQL stopped {outage:.0f} s: {len(reads)} reads of cached pages, "
        f"{len(stale)} of them served stale; {len(needs_db)} requests that need the database "
        f"answered 503 in {min(t for _, _, t, _ in needs_db):.2f}-{slowest_503:.2f} s; probes "
        f"{max(t for _, _, t in probes) * 1000:.0f} ms at most; fresh again {fresh_after} s "
        "after PostgreSQL was back"
    )
    assert [(p, r) for p, r, _ in reads if isinstance(r, str) or r.status_code != 200] == []
    assert stale, "the pages stopped being fresh during the outage: they were served stale"
    assert [(p, r) for p, r, _ in probes if isinstance(r, str) or r.status_code != 200] == []
    for what, answer, took, after in needs_db:
        assert not isinstance(answer, str), (what, answer)
        assert (what, answer.status_code, answer.headers.get("Retry-After")) == (what, 503, "5")
        assert "back in a moment" in answer.text
        # A read may be tried once more (ops.failover: in the first seconds after the worker
        # that answers it saw the database fail), within the request's deadline; a write is
        # never tried again and is a quick 503.
        assert took <= (QUICK_503 if what == "write" else REQUEST_BUDGET), (what, took, after)
    assert fresh_after is not None and fresh_after <= 5
    assert same_workers, "recovered without restarting a worker"


def test_postgres_frozen_no_request_holds_a_thread_past_its_budget():
    with PostgresServer() as pg, RedisServer() as redis:
        env = _site(pg, redis, APP_PAGE_CACHE="false")  # every page needs the database
        with Gunicorn(env) as app:
            assert app.get("/", headers=HOST).status_code == 200
            workers = app.all_workers()
            threads = int(env["GUNICORN_WORKERS"]) * int(env["GUNICORN_THREADS"])
            stop_at = time.monotonic() + FREEZE_SECONDS + 3
            answers: list[tuple[float, object]] = []

            def client() -> None:  # keeps one request in flight, whatever the answer
                for _ in range(10_000):  # bounded; in practice stop_at ends it
                    if time.monotonic() > stop_at:
                        return
                    path = f"/search/?q={uuid.uuid4().hex[:8]}"
                    answer, took = _timed(lambda p=path: app.get(p, headers=HOST))
                    answers.append((took, _status(answer)))

            clients = [threading.Thread(target=client) for _ in range(threads + 4)]
            for thread in clients:
                thread.start()
            for _ in range(400):  # until every request thread has been busy: at most 20 s
                if len(answers) >= 2 * threads:
                    break
                time.sleep(0.05)
            frozen = pg.freeze()
            liveness = []
            try:
                for _ in range(FREEZE_SECONDS * 2):
                    answer, took = _timed(lambda: _live(app))
                    liveness.append((took, _status(answer)))
                    time.sleep(0.5)
            finally:
                pg.thaw(frozen)
            for thread in clients:
                thread.join(60)
            thawed = time.monotonic()
            recovered_after = None
            for _ in range(200):  # at most about 10 s
                if app.get("/", headers=HOST).status_code == 200:
                    recovered_after = time.monotonic() - thawed
                    break
                time.sleep(0.05)
            durations = [
                line["duration_ms"] / 1000
                for line in app.json_lines()
                if line["logger"] == "gunicorn.access" and line["path"].startswith("/search/")
            ]
            same_workers = app.worker_pids() == workers

    statuses = sorted({s for _, s in answers}, key=str)
    print(
        f"PostgreSQL frozen {FREEZE_SECONDS} s, {threads} request threads kept busy: "
        f"{len(durations)} requests, the longest held a thread {max(durations):.2f} s "
        f"(median {statistics.median(durations):.2f} s); answers {statuses}; liveness "
        f"{max(t for t, _ in liveness) * 1000:.0f} ms at most; 200 again "
        f"{recovered_after} s after the thaw"
    )
    assert max(durations) <= REQUEST_BUDGET + 0.5  # the watchdog looks every 0.1 s
    assert set(statuses) <= {200, 503}, statuses
    assert 503 in statuses, "the freeze was felt"
    assert [a for _, a in liveness if a != 200] == []
    assert max(t for t, _ in liveness) <= LIVENESS_BOUND
    assert same_workers, "no worker was restarted"
    assert recovered_after is not None


def test_redis_frozen_pages_sessions_and_writes_carry_on():
    with PostgresServer() as pg, RedisServer() as redis:
        env = _site(pg, redis)
        with Gunicorn(env) as app:
            session = _logged_in(app)
            redis.freeze()
            try:
                started = time.monotonic()
                timings, answers = [], []
                while time.monotonic() - started < FREEZE_SECONDS:
                    for call in (
                        lambda: app.get("/", headers=HOST),
                        lambda: session.get(f"{app.url}/", headers=HOST, timeout=10),
                    ):
                        answer, took = _timed(call)
                        timings.append(took)
                        answers.append(answer)
                    time.sleep(0.1)
                created = submit_form(
                    session, f"{app.url}/post/new/", {"title": "While Redis hung", "body": "x"},
                    HOST,
                )  # fmt: skip
                ready = app.get("/readyz")
            finally:
                redis.thaw()
            draft = session.get(app.url + created.headers.get("Location", "/"), headers=HOST)

    p99 = statistics.quantiles(timings, n=100)[98]
    print(
        f"Redis frozen {FREEZE_SECONDS} s: {len(timings)} page views, p50 "
        f"{statistics.median(timings) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, slowest "
        f"{max(timings) * 1000:.0f} ms"
    )
    assert [a for a in answers if isinstance(a, str) or a.status_code != 200] == []
    assert all(signed_in_as("editor") in a.content for a in answers[1::2]), "still logged in"
    assert p99 <= 1.0
    assert created.status_code == 302 and "While Redis hung" in draft.text
    assert (ready.status_code, ready.json()["cache"]) == (200, "unavailable")


# Longer than DATABASE_POOL_TIMEOUT (2 s), so the first try must fail; about the 2.0 s the
# drill measures for a planned switchover. PostgreSQL's own start-up comes on top, and the
# pool retries connecting about once a second (psycopg_pool's backoff): the second try, 0.5 s
# after the first failed, gets its connection at the pool's next attempt after the restart.
SWITCHOVER_GAP = 2.2


@pytest.mark.parametrize(
    ("window", "deadline", "read_status"),
    [
        ("5", "5", 200),
        # 2 s left after the first try: less than another full wait on the pool, enough for
        # the pause and a try whose wait ends by the deadline (ops.postgresql).
        ("5", "4", 200),
        ("0", "5", 503),
    ],
)
def test_a_read_rides_through_a_switchover_a_write_is_refused_cleanly(
    window, deadline, read_status
):
    """PostgreSQL away for 2.2 s, as during a switchover. A read sent into the gap fails its
    first try after the pool's 2 s and is answered on its second (ops.failover) within the
    request's deadline, even when that leaves less than another 2 s; with
    DATABASE_FAILOVER_WINDOW=0 it is the 503 it used to be. A write sent into the gap is
    never tried again: a quick 503 with Retry-After, and not applied."""
    with PostgresServer() as pg, RedisServer() as redis:
        env = _site(
            pg,
            redis,
            APP_PAGE_CACHE="false",
            DATABASE_FAILOVER_WINDOW=window,
            REQUEST_DEADLINE=deadline,
        )
        with Gunicorn(env) as app:
            session = _logged_in(app)
            assert app.get("/search/?q=before", headers=HOST).status_code == 200
            title = f"sent into the gap {uuid.uuid4().hex[:8]}"
            outcomes: dict[str, tuple] = {}
            pg.stop("fast")
            back = threading.Timer(SWITCHOVER_GAP, pg.start)
            back.start()
            reader = threading.Thread(
                target=lambda: outcomes.update(
                    read=_timed(lambda: app.get("/search/?q=gap", headers=HOST))
                )
            )
            reader.start()
            outcomes["write"] = _timed(
                lambda: session.post(
                    f"{app.url}/post/new/",
                    data={
                        "title": title,
                        "body": "x",
                        "csrfmiddlewaretoken": session.cookies["csrftoken"],
                    },
                    headers={**HOST, "Referer": f"{app.url}/post/new/"},
                    allow_redirects=False,
                    timeout=10,
                )
            )
            reader.join(30)
            back.join(30)
            app.wait_until("/search/?q=after", 200)
            drafts = session.get(f"{app.url}/drafts/", headers=HOST).text
    read, read_took = outcomes["read"]
    write, write_took = outcomes["write"]
    print(
        f"DATABASE_FAILOVER_WINDOW={window}, REQUEST_DEADLINE={deadline}: PostgreSQL away "
        f"{SWITCHOVER_GAP:g} s; a read answered {_status(read)} after {read_took:.2f} s, "
        f"a write {_status(write)} after {write_took:.2f} s"
    )
    assert _status(read) == read_status
    assert 2.0 <= read_took <= float(deadline) + 0.5  # its first try waited out the pool's 2 s
    assert (_status(write), write.headers.get("Retry-After")) == (503, "5")
    assert write_took <= QUICK_503
    assert title not in drafts, "a write answered 503 was not applied"
