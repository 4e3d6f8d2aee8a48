"""The seven scenarios of issue 6. Each breaks something while the load runs, heals it, and
states its pass criteria as named checks; the figures every scenario reports (requests,
failures, latency) are computed from the load's records in report.py."""

from __future__ import annotations

import random
import statistics
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from harness.servers import PG_BIN, PostgresServer
from tests.drill import expand, kube
from tests.drill import haproxy as lb
from tests.drill.clock import Clock, Events
from tests.drill.config import Timings
from tests.drill.drain import HeldWrite
from tests.drill.haproxy import Monitor
from tests.drill.load import Load, Record
from tests.drill.stack import Release, Replica, Stack
from tests.drill.verify import APPROVED_COMMENTS_SQL, POSTS_SQL

RECOVERY_BOUND = 5.0  # seconds: replicas ready again after PostgreSQL is back (issue 6)
# The longest a request may hold a replica's thread, whatever the database does:
# REQUEST_DEADLINE (5 s, config/env.py; docs/operations.md "Deadlines"), plus the watchdog's
# 0.1 s period and a busy machine's slack. Time spent before a thread was free (requests
# queue inside a replica whose threads all wait) is not the app's deadline; it is bounded by
# the proxy's read timeout (60 s), and reported.
DEADLINE_BUDGET = 5.5


@dataclass
class Outcome:
    number: int
    name: str
    start: float = 0.0
    end: float = 0.0
    checks: list[dict] = field(default_factory=list)
    figures: dict = field(default_factory=dict)
    error: str | None = None
    no_retries: bool = False  # a planned change: not even a retry by the proxy is allowed

    def check(self, name: str, passed: bool, detail: object = "") -> bool:
        self.checks.append({"check": name, "passed": bool(passed), "detail": detail})
        return passed

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.checks) and all(c["passed"] for c in self.checks)


@dataclass
class Drill:
    stack: Stack
    load: Load
    monitor: Monitor
    events: Events
    clock: Clock
    timings: Timings
    old: Release
    new: Release
    out_dir: Path
    rng: random.Random = field(default_factory=lambda: random.Random(6))

    def wait(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))

    def records(self, start: float, end: float) -> list[Record]:
        return [r for r in self.load.snapshot() if r.phase == "load" and start <= r.sent < end]

    def finish(self, o: Outcome) -> list[Record]:
        """Close the scenario's window; its requests, once every one of them has an answer."""
        o.end = self.clock.now()
        self.load.wait_answered(sent_before=o.end)
        return self.records(o.start, o.end)

    def wait_for(self, predicate, timeout: float, step: float = 0.1):
        """Poll until predicate() is truthy (returns its value) or the timeout (None)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(step)
        return None


def failed(records: list[Record]) -> list[Record]:
    return [r for r in records if not r.ok]


# --- 1 ----------------------------------------------------------------------------------------
def rolling_update(d: Drill, o: Outcome) -> None:
    """One new replica at a time (maxSurge 1, maxUnavailable 0): start, wait until it is in
    rotation and minReadySeconds, then delete an old pod (endpoint removal and preStop at
    once, then SIGTERM) and go on with the next new one without waiting for it to exit, as
    the Deployment controller does."""
    t = d.timings
    o.no_retries = True
    d.wait(t.settle)
    old = [r for r in d.stack.serving() if r.release == d.old]
    begin = d.events.add(
        "fault", f"rollout {d.old.version} ({d.old.color}) → {d.new.version} ({d.new.color}) begins"
    )
    with psycopg.connect(d.stack.pg.direct_url) as conn:
        seeded = expand.seed_comments(conn, d.load.published[0])
        comments = conn.execute("SELECT count(*) FROM blog_comment").fetchone()[0]
    # The first new pod's migrate init container applies release 2's expand migration while
    # release 1 serves; the others' find nothing to do (as `migrate_locked` in each pod does).
    migrate_began = d.events.add("action", f"{d.new.version}: migrate_locked (expand migration)")
    with LockWaits(d.stack.pg.direct_url) as waits:
        migrate_log = d.stack.run_once(
            d.new, "python manage.py migrate_locked", env=d.stack.init_env(d.new)
        )
    migrated = d.events.add("action", f"{d.new.version}: migrations applied")
    with psycopg.connect(d.stack.pg.direct_url) as conn:
        expanded = expand.verify(conn)
    o.figures.update(
        expand_migration={
            "comments_in_table": comments,
            "seeded": seeded,
            "took_s": _round(migrated - migrate_began),
            "longest_lock_wait_s": _round(waits.longest),
            **expanded,
        }
    )
    retiring = []
    held, held_thread = None, None
    for victim in old:
        new = d.stack.start_replica(d.new)
        d.stack.register(new)
        d.wait(t.min_ready)
        deleted = d.clock.now()
        retiring.append(d.stack.retire_in_background(victim))
        if held is None and d.load.published:
            # The first old replica gets a write in flight at SIGTERM (tests/drill/drain.py).
            held = HeldWrite(victim.port, d.load.published[0])
            held_thread = held.start(
                deleted + kube.web().prestop - 1.0,
                lambda name=victim.name, at=deleted: _event_at(d, f"{name}: SIGTERM", at),
                d.clock,
            )
    retired = [wait() for wait in retiring]
    if held_thread is not None:
        held_thread.join(60)
    end = d.events.add("heal", f"rollout done: only {d.new.version} ({d.new.color}) serves")
    d.wait(t.settle)
    records = d.finish(o)
    during = [r for r in records if begin <= r.sent < end]
    after = [r for r in records if r.sent >= end]
    seen_during = sorted({r.version for r in during if r.version})
    after_versions = sorted({r.version for r in after if r.version})
    after_colors = sorted({r.color for r in after if r.color})
    fewest = d.monitor.fewest_up(begin, end)
    o.figures.update(
        fewest_replicas_up_during=fewest,
        versions_during=_count_by(during, "version"),
        versions_after=_count_by(after, "version"),
        colors_after=after_colors,
        retired=retired,
    )
    o.check("no failed request", not failed(records), _failures(records))
    o.check(
        f"never fewer than {len(old)} replicas UP (maxUnavailable 0)",
        fewest is not None and fewest >= len(old),
        fewest,
    )
    o.check(
        "both versions answered during the rollout",
        seen_during == sorted({d.old.version, d.new.version}),
        seen_during,
    )
    o.check(
        f"only {d.new.version} ({d.new.color}) answered after it",
        bool(after) and after_versions == [d.new.version] and after_colors == [d.new.color],
        {"versions": after_versions, "colors": after_colors},
    )
    o.check(
        "every old replica exited 0",
        all(f.get("exit_code") == 0 for f in retired),
        retired,
    )
    o.check(
        f"release {d.new.version}'s expand migration applied under load "
        f"(a column, an index built concurrently on {comments} comments)",
        expanded["ok"] and comments >= expand.SEED_ROWS and "drill_expand" in migrate_log,
        o.figures["expand_migration"],
    )
    o.check(
        f"no session waited for a lock longer than the app's lock_timeout ({LOCK_TIMEOUT:g}s)",
        waits.longest < LOCK_TIMEOUT,
        _round(waits.longest),
    )
    _check_held_write(d, o, held, retired[0].get("sigterm_at") if retired else None)


LOCK_TIMEOUT = 2.0  # DATABASE_LOCK_TIMEOUT's default (config/env.py)


class LockWaits:
    """The longest any session waited for a lock, sampled ten times a second meanwhile."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.longest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lock-waits", daemon=True)

    def __enter__(self) -> LockWaits:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            for _ in range(6000):  # bounded: ten minutes
                waited = conn.execute(
                    "SELECT coalesce(extract(epoch FROM max(now() - state_change)), 0) "
                    "FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                ).fetchone()[0]
                self.longest = max(self.longest, float(waited))
                if self._stop.wait(0.1):
                    return


def _check_held_write(
    d: Drill, o: Outcome, held: HeldWrite | None, sigterm_at: float | None
) -> None:
    """The write sent half before SIGTERM and half after it was answered and is stored."""
    stored = None
    if held is not None and held.status is not None:
        with psycopg.connect(d.stack.pg.direct_url) as conn:
            stored = conn.execute(
                "SELECT count(*) FROM blog_comment WHERE text LIKE %s", (f"%{held.token}%",)
            ).fetchone()[0]
    o.figures.update(
        write_in_flight_at_sigterm={**(held.figures() if held else {}), "stored": stored}
    )
    o.check(
        "a write in flight at SIGTERM was finished by the replica's drain and stored",
        held is not None
        and held.status == 302
        and held.location.startswith("/post/")
        and stored == 1,
        o.figures["write_in_flight_at_sigterm"],
    )


# --- 2 ----------------------------------------------------------------------------------------
def self_healing(d: Drill, o: Outcome) -> None:
    """SIGKILL one replica: the kubelet sees it die (not ready; the proxy follows 1-5 s
    later) and restarts it; the proxy tries the reads it could not deliver elsewhere."""
    t = d.timings
    d.wait(t.settle)
    victim = d.rng.choice(d.stack.serving())
    restarts = victim.restarts
    killed = d.events.add("fault", f"SIGKILL {victim.name}")
    d.stack.kill(victim)
    restarted = d.wait_for(lambda: victim.restarts > restarts, timeout=30)
    restarted_at = victim.restarted_at[-1] if restarted else None
    ready_at = None
    if restarted:
        ready_at = d.wait_for(lambda: victim.readyz(timeout=2) == 200 and d.clock.now(), 60)
    # HAProxy may not even notice a restart that is quicker than its `fall` checks.
    down_at = d.monitor.first_time(victim.name, lambda s: not s.startswith("UP"), after=killed)
    up_at = None
    if down_at and ready_at:
        up_at = d.wait_for(lambda: d.monitor.first_time(victim.name, _up, after=down_at), 30)
    served_at = d.wait_for(lambda: _served_by(d, victim.name, after=ready_at or 1e9), 20)
    if served_at:
        d.events.add("heal", f"{victim.name} restarted and serving again")
    d.wait(t.settle)
    records = d.finish(o)
    o.figures.update(
        victim=victim.name,
        restarted_after_s=_since(restarted_at, killed),
        ready_after_s=_since(ready_at, killed),
        out_of_haproxy_after_s=_since(down_at, killed),
        back_in_haproxy_after_s=_since(up_at, killed),
        serving_again_after_s=_since(served_at, killed),
    )
    o.check(
        "no failed read (the proxy tried them elsewhere)",
        not [r for r in failed(records) if r.is_read],
        _failures(records, reads=True),
    )
    o.check(
        "the kubelet restarted it once",
        victim.restarts == restarts + 1,
        victim.restarts - restarts,
    )
    o.check("it serves again", served_at is not None, _since(served_at, killed))


# --- 3 ----------------------------------------------------------------------------------------
def scale_down_and_up(d: Drill, o: Outcome) -> None:
    """3 → 1 → 3. Scaling down deletes two pods at once: endpoints removed, preStop, SIGTERM."""
    t = d.timings
    o.no_retries = True
    d.wait(t.settle)
    serving = d.stack.serving()
    keep, victims = serving[0], serving[1:]
    d.events.add(
        "fault",
        f"scale {len(serving)} → 1: delete {', '.join(v.name for v in victims)}",
    )
    retired = d.stack.retire_many(victims)
    d.events.add("action", f"1 replica: {keep.name}")
    d.wait(t.scale_hold)
    up = d.events.add("action", f"scale 1 → {len(serving)}")
    added = d.stack.start_replicas(d.stack.serving()[0].release, len(victims))
    for replica in added:
        d.stack.register(replica)
    d.events.add("heal", f"{len(serving)} replicas serve again")
    d.wait(t.settle)
    records = d.finish(o)
    o.figures.update(retired=retired, scale_up_took_s=_round(d.clock.now() - up - t.settle))
    o.check("no failed request", not failed(records), _failures(records))
    o.check(
        "every replica exited 0",
        all(f.get("exit_code") == 0 for f in retired),
        retired,
    )


# --- 4 ----------------------------------------------------------------------------------------
class ReadinessWatch:
    """Each replica's readiness probe, straight from its port, five times a second."""

    def __init__(self, replicas: list[Replica], clock: Clock) -> None:
        self.clock = clock
        self.seen: dict[str, list[tuple[float, int | None]]] = {r.name: [] for r in replicas}
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._watch, args=(r,), daemon=True) for r in replicas
        ]

    def __enter__(self) -> ReadinessWatch:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)

    def _watch(self, replica: Replica) -> None:
        for _ in range(3000):  # bounded: ten minutes at most
            if self._stop.is_set():
                return
            # A generous timeout: a busy machine may be slow to answer, and the status, not
            # the speed, is what this watch is for.
            status = replica.readyz(timeout=10)
            self.seen[replica.name].append((self.clock.now(), status))  # when it answered
            self._stop.wait(0.2)

    def first(self, name: str, status: int, after: float) -> float | None:
        return next((t for t, s in self.seen[name] if t >= after and s == status), None)


def database_unreachable(d: Drill, o: Outcome) -> None:
    """The database cannot be reached: PgBouncer, every replica's way to PostgreSQL, is
    killed (SIGKILL) and started again after a while. Readers of a page already served keep
    reading it (a stale copy when it cannot be made again), everything else that needs the
    database answers a clean 503 with Retry-After in bounded time, every replica stays ready,
    and all recovers by itself."""
    t = d.timings
    d.wait(t.settle)
    replicas = d.stack.serving()
    pids = {r.name: (r.pid, r.restarts) for r in replicas}
    with ReadinessWatch(replicas, d.clock) as watch:
        d.wait(0.5)
        down = d.events.add("fault", "database unreachable: PgBouncer killed (SIGKILL)")
        d.stack.pg.stop_pooler()
        d.wait(t.pg_down)
        d.stack.pg.start_pooler()
        back = d.events.add("heal", "PgBouncer started again")
        fresh = d.wait_for(lambda: _served_fresh(d, after=back), timeout=30)
    d.wait(t.settle)
    records = d.finish(o)
    window_end = fresh if fresh is not None else float("inf")
    during = [r for r in records if r.done >= down and r.sent <= window_end]
    served_before = {r.path for r in records if r.done < down and r.ok and _anonymous_read(r)}
    known_reads = [r for r in during if _anonymous_read(r) and r.path in served_before]
    unclean = [r for r in failed(during) if not (r.status == 503 and r.retry_after == "5")]
    outside = [r for r in failed(records) if r not in during]
    not_ready = {
        r.name: [(round(at - down, 2), s) for at, s in watch.seen[r.name] if s != 200]
        for r in replicas
    }
    o.figures.update(
        database_unreachable_s=_round(back - down),
        fresh_pages_after_s=_round(fresh - back if fresh else None),
        reads_of_pages_served_before=len(known_reads),
        of_them_stale=sum(r.stale for r in known_reads),
        failed_during_outage=len(failed(during)),
        failed_outside_outage=len(outside),
        during_outage=_outage_answers([r for r in records if down <= r.sent < back]),
    )
    o.check(
        "every anonymous read of a page served before the outage answered 200",
        not failed(known_reads),
        _failures(known_reads),
    )
    o.check(
        "every other failure was a clean 503 with Retry-After",
        not unclean,
        _failures(unclean),
    )
    _check_deadline(d, o, during)
    o.check(
        "/readyz answered 200 on every replica throughout",
        not any(not_ready.values()),
        {name: seen[:5] for name, seen in not_ready.items() if seen},
    )
    o.check(
        f"fresh pages again within {RECOVERY_BOUND:g}s of PostgreSQL being back",
        fresh is not None and fresh - back <= RECOVERY_BOUND,
        _round(fresh - back if fresh else None),
    )
    o.check(
        "no replica was restarted",
        all((r.pid, r.restarts) == pids[r.name] for r in replicas),
        {r.name: r.restarts - pids[r.name][1] for r in replicas},
    )
    o.check("failures only while PostgreSQL was down", not outside, _failures(outside))


# Logged-in pages and writes: never from the page cache.
NEEDS_THE_DATABASE = frozenset({"drafts", "moderate", "create", "publish", "comment", "approve"})


def _check_deadline(d: Drill, o: Outcome, records: list[Record]) -> None:
    """No request held a replica's thread past the deadline budget, and every one was
    answered: nothing waits forever."""
    in_app = d.stack.time_in_app()
    held = {r.request_id: in_app[r.request_id] for r in records if r.request_id in in_app}
    slow = {rid: round(s, 2) for rid, s in held.items() if s > DEADLINE_BUDGET}
    unanswered = [r.request_id for r in records if r.status is None]
    o.figures.update(
        max_s_in_a_replica=_round(max(held.values(), default=0)),
        max_s_at_the_client=_round(max((r.latency_ms for r in records), default=0) / 1000),
    )
    o.check(
        f"no request held a replica's thread over {DEADLINE_BUDGET:g}s (REQUEST_DEADLINE)",
        not slow and len(held) >= len(records) // 2,
        {"slow": dict(list(slow.items())[:10]), "found_in_logs": len(held), "of": len(records)},
    )
    o.check("every request was answered", not unanswered, unanswered[:10])


def _anonymous_read(record: Record) -> bool:
    return record.is_read and record.user is None and record.method == "GET"


def _served_fresh(d: Drill, after: float) -> float | None:
    """When a page needing the database was first answered 200 after `after`, if yet."""
    return next(
        (
            r.done
            for r in d.load.snapshot()
            if r.sent >= after and r.ok and not r.stale and r.kind in NEEDS_THE_DATABASE
        ),
        None,
    )


# --- 5 ----------------------------------------------------------------------------------------
def redis_outage(d: Drill, o: Outcome) -> None:
    """SIGKILL Redis, leave it dead, start a fresh one on the same port."""
    t = d.timings
    d.wait(t.settle)
    redis = d.stack.redis
    down = d.events.add("fault", f"Redis killed (SIGKILL) for {t.redis_down:g}s")
    redis.process.kill()
    redis.process.wait(10)
    d.wait(t.redis_down)
    redis.start()
    back = d.events.add("heal", "Redis started again (empty)")
    d.wait(t.settle)
    records = d.finish(o)
    outage = [r for r in records if down <= r.sent < back]
    logged_in = [r for r in outage if r.user]
    logged_out = [r for r in records if r.why == "logged out"]
    o.figures.update(
        requests_during_outage=len(outage),
        logged_in_requests_during_outage=len(logged_in),
        p99_ms_during_outage=_round(_percentile([r.latency_ms for r in outage], 99)),
        failed_writes=len([r for r in failed(records) if r.is_write]),
    )
    o.check("no failed request, read or write", not failed(records), _failures(records))
    o.check(
        "logged-in authors stayed logged in",
        bool(logged_in) and not logged_out,
        {"logged_in_requests_during_outage": len(logged_in), "logged_out": len(logged_out)},
    )


# --- 6 ----------------------------------------------------------------------------------------
def hung_replica(d: Drill, o: Outcome) -> None:
    """SIGSTOP every process of one replica: it still accepts connections but never answers,
    not even its probes. Its readiness probe takes it out of rotation; if it stays frozen long
    enough, its liveness probe has the kubelet restart it."""
    t = d.timings
    d.wait(t.settle)
    victim = d.rng.choice(d.stack.serving())
    restarts = victim.restarts
    bound = lb.DETECTION_BOUND
    stopped = d.events.add("fault", f"SIGSTOP {victim.name} (hung)")
    pids = d.stack.freeze(victim)
    try:
        out_at = d.wait_for(
            lambda: d.monitor.first_time(victim.name, _not_up, after=stopped),
            timeout=bound + 2,
            step=0.1,
        )
        if out_at:
            d.events.add("action", f"{victim.name} out of rotation")
        d.wait(2.0)
    finally:
        d.stack.thaw(pids)
    cont = d.events.add("heal", f"SIGCONT {victim.name}")
    up_at = d.wait_for(lambda: d.monitor.first_time(victim.name, _up, after=cont), 90)
    d.wait(t.settle)
    records = d.finish(o)
    while_out = d.monitor.sessions_between(victim.name, out_at, cont) if out_at else None
    fails = failed(records)
    o.figures.update(
        victim=victim.name,
        out_of_rotation_after_s=_round(out_at - stopped if out_at else None),
        detection_bound_s=_round(bound),
        requests_sent_to_it_while_hung=d.monitor.sessions_between(
            victim.name, stopped - d.monitor.interval, out_at or cont
        ),
        requests_sent_to_it_while_out=while_out,
        restarted_by_liveness=victim.restarts - restarts,
        back_in_rotation_after_sigcont_s=_round(up_at - cont if up_at else None),
        failed_reads_held_by_it=sum(1 for r in fails if r.is_read),
    )
    o.check(
        f"out of rotation within the readiness probe's bound ({bound:.0f}s)",
        out_at is not None and out_at - stopped <= bound,
        _round(out_at - stopped if out_at else None),
    )
    o.check("no request sent to it while out of rotation", while_out == 0, while_out)
    stray = [r for r in fails if r.server != victim.name]
    o.check("every failure was a request it held", not stray, _failures(stray))
    o.check(
        "back in rotation after SIGCONT", up_at is not None, _round(up_at - cont if up_at else None)
    )


# --- 7 ----------------------------------------------------------------------------------------
def backup_and_restore(d: Drill, o: Outcome) -> None:
    """pg_dump under load from an exported snapshot, pg_restore into a fresh PostgreSQL,
    compare every post and approved comment with what that snapshot saw."""
    t = d.timings
    d.wait(t.settle)
    dump = d.out_dir / "backup.dump"
    began = d.events.add("action", "pg_dump under load")
    with psycopg.connect(d.stack.pg.direct_url) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        snapshot_at = d.clock.now()
        expected_posts = conn.execute(POSTS_SQL).fetchall()
        expected_comments = conn.execute(APPROVED_COMMENTS_SQL).fetchall()
        subprocess.run(
            [str(PG_BIN / "pg_dump"), "--format=custom", f"--snapshot={snapshot}", f"--file={dump}",
             f"--dbname={d.stack.pg.direct_url}"],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        conn.rollback()
    dumped = d.events.add("action", f"pg_dump done ({dump.stat().st_size // 1024} KiB)")
    restored = PostgresServer()
    try:
        restored.start()
        subprocess.run(
            [str(PG_BIN / "pg_restore"), "--no-owner", "--exit-on-error",
             f"--dbname={restored.url}", str(dump)],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        with psycopg.connect(restored.url) as conn:
            got_posts = conn.execute(POSTS_SQL).fetchall()
            got_comments = conn.execute(APPROVED_COMMENTS_SQL).fetchall()
            restored_post_ids = {row[0] for row in got_posts}
        # The restored database is one the app accepts: migrate_locked finds nothing to do.
        migrate = d.stack.run_once(
            d.new,
            "python manage.py migrate_locked",
            env={**d.stack.init_env(d.new), "DATABASE_URL": restored.url},
        )
        d.events.add("action", "restored into a fresh PostgreSQL and compared")
    finally:
        restored.destroy()
    d.wait(t.settle)
    acked_before = [
        r for r in d.load.snapshot()
        if r.kind == "create" and r.ok and r.done < snapshot_at and r.write and "post_id" in r.write
    ]  # fmt: skip
    missing = [
        r.write["post_id"] for r in acked_before if r.write["post_id"] not in restored_post_ids
    ]
    records = d.finish(o)
    o.figures.update(
        dump_s=_round(dumped - began),
        dump_kib=dump.stat().st_size // 1024,
        posts=len(expected_posts),
        approved_comments=len(expected_comments),
        posts_acknowledged_before_snapshot=len(acked_before),
    )
    o.check(
        "every post restored as it was",
        got_posts == expected_posts,
        {
            "expected": len(expected_posts),
            "restored": len(got_posts),
            "differ": _diff(expected_posts, got_posts),
        },
    )
    o.check(
        "every approved comment restored as it was",
        got_comments == expected_comments,
        {
            "expected": len(expected_comments),
            "restored": len(got_comments),
            "differ": _diff(expected_comments, got_comments),
        },
    )
    o.check("every post acknowledged before the dump is in it", not missing, missing[:10])
    o.check(
        "the app accepts the restored database (migrate_locked: nothing to apply)",
        "No migrations to apply" in migrate,
        migrate.strip()[-300:],
    )
    o.check("no failed request while dumping", not failed(records), _failures(records))


# --- helpers ----------------------------------------------------------------------------------
def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _outage_answers(records: list[Record]) -> dict[str, int]:
    answers = {
        "ok": 0,
        "of them stale": 0,
        "503 from the app": 0,
        "503 from HAProxy (no replica ready)": 0,
        "other": 0,
    }
    for r in records:
        if r.ok:
            answers["ok"] += 1
            answers["of them stale"] += r.stale
        elif r.status == 503 and r.server == "<NOSRV>":
            answers["503 from HAProxy (no replica ready)"] += 1
        elif r.status == 503:
            answers["503 from the app"] += 1
        else:
            answers["other"] += 1
    return answers


def _event_at(d: Drill, label: str, after: float) -> float | None:
    """When the drill recorded an event whose label begins with `label`, after `after`."""
    return next((e.t for e in d.events.between(after, 1e9) if e.label.startswith(label)), None)


def _since(moment: float | None, origin: float) -> float | None:
    return None if moment is None else round(moment - origin, 2)


def _up(status: str) -> bool:
    return status == "UP"


def _not_up(status: str) -> bool:
    return not status.startswith("UP")


def _served_by(d: Drill, replica: str, after: float) -> float | None:
    """When a page rendered by `replica` was first requested after `after`."""
    return next(
        (r.sent for r in d.load.snapshot() if r.replica == replica and r.sent > after), None
    )


def _percentile(values: list[float], q: int) -> float | None:
    """The q-th percentile, interpolated between the two nearest values; None without values."""
    if len(values) < 2:  # statistics.quantiles wants two
        return values[0] if values else None
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _count_by(records: list[Record], attribute: str) -> Counter[str]:
    return Counter(value for record in records if (value := getattr(record, attribute)))


def _failures(records: list[Record], reads: bool = False) -> dict:
    """Failures by reason, with a few examples: the evidence a failed check shows."""
    items = [r for r in records if not r.ok and (r.is_read or not reads)]
    reasons = Counter(record.why for record in items)
    examples = [
        {"request_id": r.request_id, "kind": r.kind, "path": r.path, "status": r.status,
         "why": r.why, "server": r.server, "sent": round(r.sent, 2)}
        for r in items[:5]
    ]  # fmt: skip
    return {"count": len(items), "reasons": reasons, "examples": examples}


def _diff(expected: list, got: list) -> list:
    a, b = set(expected), set(got)
    return [repr(row)[:200] for row in list(a ^ b)[:3]]
