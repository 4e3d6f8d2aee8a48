"""The data tier's scenarios: the PostgreSQL primary crashes, is switched over, freezes.

The cluster is harness/pgcluster.py: three Patroni nodes with synchronous replication, etcd,
HAProxy following the primary (production's `-rw` Service) and PgBouncer in transaction mode
(the Pooler), with durable settings. Every write the load got acknowledged is looked up by id
on the final primary at the end of the drill (report.py adds that check to every scenario), so
a promotion that lost one fails the scenario it happened in.
"""

from __future__ import annotations

from tests.drill.load import Record
from tests.drill.scenarios import (
    Drill,
    Outcome,
    _anonymous_read,
    _check_deadline,
    _failures,
    _round,
    failed,
)

# Writes work again within this long after the primary fails (issue: "<= 15 s").
WRITES_BACK_BOUND = 15.0
# A planned switchover may refuse writes, cleanly, for at most this long.
SWITCHOVER_WRITE_BOUND = 5.0
REJOIN_TIMEOUT = 90.0


def primary_crash(d: Drill, o: Outcome) -> None:
    """The primary's node crashes: Patroni and every PostgreSQL process SIGKILLed at once.
    Then the node starts again and must come back as a standby of the new primary."""
    pg = d.stack.pg

    def start_again(old: str) -> None:
        d.wait(1.0)
        pg.restart_node(old)
        d.events.add("action", f"{old} started again")

    _failover(d, o, "node crash (SIGKILL of Patroni and PostgreSQL)", pg.crash_node, start_again)


def postmaster_killed(d: Drill, o: Outcome) -> None:
    """SIGKILL of the primary's postmaster only; Patroni sees it and fails over."""
    _failover(d, o, "postmaster SIGKILL", d.stack.pg.kill_postmaster)


def immediate_stop(d: Drill, o: Outcome) -> None:
    """`pg_ctl stop -m immediate` on the primary (no checkpoint, no goodbye)."""
    _failover(d, o, "pg_ctl stop -m immediate", d.stack.pg.stop_immediate)


def _failover(d: Drill, o: Outcome, how: str, fault, after_promotion=None) -> None:
    """`fault(primary)` under load; wait for a new primary; `after_promotion(old)`; wait
    until the old primary streams from the new one; judge."""
    t = d.timings
    pg = d.stack.pg
    d.wait(t.settle)
    old = pg.leader()
    served_before = _served_paths(d, o, before=d.clock.now())
    down = d.events.add("fault", f"PostgreSQL primary {old}: {how}")
    fault(old)
    try:
        promoted = _wait_leader(d, old)
        if promoted:
            d.events.add("heal", f"{promoted[0]} promoted")
    finally:
        if after_promotion is not None:
            after_promotion(old)
    rejoined = _rejoined(d, old)
    d.wait(t.settle)
    records = d.finish(o)
    after = [r for r in records if r.sent >= down]
    _judge(d, o, old, records, after, served_before, down, promoted, rejoined)


def switchover(d: Drill, o: Outcome) -> None:
    """A planned switchover, as CloudNativePG does on a rolling PostgreSQL update: no read
    fails; writes fail only as clean 503s with Retry-After, for a few seconds at most."""
    t = d.timings
    pg = d.stack.pg
    d.wait(t.settle)
    old = pg.leader()
    began = d.events.add("fault", f"switchover from {old}")
    try:
        new, took = pg.switchover(timeout=30)
        promoted = (new, d.clock.now())
        d.events.add("heal", f"{new} is the primary ({took:.1f}s)")
    except (RuntimeError, TimeoutError) as exc:
        promoted = None
        o.figures["switchover_error"] = str(exc)[:300]
    rejoined = _rejoined(d, old)
    d.wait(t.settle)
    records = d.finish(o)
    after = [r for r in records if r.sent >= began]
    unavailable = _figures(o, old, after, began, promoted, rejoined)
    o.check("a new primary", promoted is not None, o.figures.get("switchover_error"))
    o.check(
        "no failed read",
        not [r for r in failed(records) if r.is_read],
        _failures(records, reads=True),
    )
    unclean = [r for r in failed(records) if not (r.status == 503 and r.retry_after)]
    o.check("every failed write was a clean 503 with Retry-After", not unclean, _failures(unclean))
    o.check(
        f"writes refused for at most {SWITCHOVER_WRITE_BOUND:g}s",
        unavailable <= SWITCHOVER_WRITE_BOUND,
        unavailable,
    )
    _check_deadline(d, o, after)
    _check_history(d, o, old, rejoined)


def primary_frozen(d: Drill, o: Outcome) -> None:
    """SIGSTOP of the primary's whole node (Patroni too: a frozen VM). Requests stay within
    the deadline budget, a standby is promoted, and once thawed the old primary steps down
    and follows the new one; no acknowledged write is lost."""
    pg = d.stack.pg
    frozen: list[int] = []

    def thaw(old: str) -> None:
        d.wait(2.0)
        pg.thaw(frozen)
        d.events.add("action", f"{old} thawed (SIGCONT)")

    _failover(d, o, "frozen (SIGSTOP of the node)", lambda old: frozen.extend(pg.freeze(old)), thaw)


# --- shared ---------------------------------------------------------------------------------
def _wait_leader(d: Drill, old: str) -> tuple[str, float] | None:
    try:
        name, _ = d.stack.pg.wait_for_leader(not_in=(old,), timeout=30)
    except TimeoutError:
        return None
    return name, d.clock.now()


def _rejoined(d: Drill, old: str) -> float | None:
    """When every node streams from the primary again (the old one as a standby)."""
    try:
        d.stack.pg.wait_for_replicas(timeout=REJOIN_TIMEOUT)
    except TimeoutError:
        return None
    at = d.clock.now()
    d.events.add("heal", f"{old} streams from the new primary: three nodes again")
    return at


def _served_paths(d: Drill, o: Outcome, before: float) -> set[str]:
    """Anonymous pages served in this scenario before the fault (every replica serves the
    same version by now: these are the pages the shared page cache holds)."""
    return {
        r.path
        for r in d.load.snapshot()
        if o.start <= r.sent and r.done < before and r.ok and _anonymous_read(r)
    }


def _write_unavailability(records: list[Record], since: float) -> float:
    """Seconds from `since` to the last write that failed, sent after it (0: none failed)."""
    failures = [r.sent for r in failed(records) if r.is_write]
    return round(max(failures) - since, 2) if failures else 0.0


def _figures(o: Outcome, old, after: list[Record], since: float, promoted, rejoined) -> float:
    """The figures every data-tier scenario reports; returns the write unavailability."""
    unavailable = _write_unavailability(after, since)
    o.figures.update(
        old_primary=old,
        new_primary=promoted[0] if promoted else None,
        time_to_promotion_s=_round(promoted[1] - since if promoted else None),
        write_unavailability_s=unavailable,
        failed_writes=len([r for r in failed(after) if r.is_write]),
        rejoined_after_s=_round(rejoined - since if rejoined else None),
    )
    return unavailable


def _judge(d, o, old, records, after, served_before, down, promoted, rejoined) -> None:
    known_reads = [r for r in after if _anonymous_read(r) and r.path in served_before]
    unavailable = _figures(o, old, after, down, promoted, rejoined)
    # Writes work again: one was acknowledged after the last that failed, and that last one
    # was sent within the bound.
    writes_back = [r for r in after if r.is_write and r.ok and r.sent >= down + unavailable]
    o.figures.update(
        reads_of_pages_served_before=len(known_reads),
        of_them_stale=sum(r.stale for r in known_reads),
    )
    o.check(
        f"a standby promoted within {WRITES_BACK_BOUND:g}s",
        promoted is not None and promoted[1] - down <= WRITES_BACK_BOUND,
        o.figures["time_to_promotion_s"],
    )
    o.check(
        f"writes work again within {WRITES_BACK_BOUND:g}s",
        unavailable <= WRITES_BACK_BOUND and bool(writes_back),
        {"unavailable_s": unavailable, "acknowledged_after_it": len(writes_back)},
    )
    o.check(
        "every anonymous read of a page served before answered 200",
        not failed(known_reads),
        _failures(known_reads),
    )
    unclean = [r for r in failed(after) if not (r.status == 503 and r.retry_after)]
    o.check("every failure was a clean 503 with Retry-After", not unclean, _failures(unclean))
    _check_deadline(d, o, after)
    _check_history(d, o, old, rejoined)


def _check_history(d: Drill, o: Outcome, old: str | None, rejoined: float | None) -> None:
    history = d.stack.pg.split_brain_check()
    o.figures["history"] = history
    o.check(f"the old primary ({old}) came back as a standby", rejoined is not None, None)
    o.check(
        "one history: no two primaries ever wrote diverging timelines",
        history["ok"],
        history["problems"],
    )
