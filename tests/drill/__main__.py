"""`python -m tests.drill [--short] [--out DIR]`: run the drill, write DIR/report.json and
DIR/timeline.png (default build/drill), exit 1 when a scenario failed."""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import signal
import sys
import time
import traceback
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from harness.paths import BUILD
from tests.drill import haproxy as lb
from tests.drill import kube, plan
from tests.drill.clock import Clock, Events
from tests.drill.config import FULL, SHORT, WORKER_SETTINGS, Timings
from tests.drill.haproxy import Monitor, read_log
from tests.drill.load import MIX, Load
from tests.drill.report import plot_timeline, summarize, table, write_report
from tests.drill.scenarios import Drill, Outcome
from tests.drill.stack import Stack, ensure_images, remove_next_image
from tests.drill.verify import verify_writes

PLOT_COLORS = {"orange": "#ff9800", "maroon": "#800000"}


def _terminate(signum, frame):
    raise SystemExit(128 + signum)  # runs every finally: and atexit cleanup


def back_to_baseline(d: Drill, timeout: float = 60.0) -> bool:
    """Before each scenario: the Deployment's replica count, all UP in HAProxy, and the
    worker Deployment's (a scenario that failed half-way may have left fewer)."""
    missing = d.timings.replicas - len(d.stack.serving())
    if missing > 0:
        release = d.stack.serving()[-1].release if d.stack.serving() else d.new
        d.events.add("action", f"baseline: starting {missing} replica(s)")
        try:
            for replica in d.stack.start_replicas(release, missing):
                d.stack.register(replica)
        except Exception:
            traceback.print_exc()
            return False
    workers = d.timings.workers - len(d.stack.workers.running())
    if workers > 0:
        d.events.add("action", f"baseline: starting {workers} worker(s)")
        try:
            d.stack.workers.start_many(d.stack.serving()[-1].release, workers)
        except Exception:
            traceback.print_exc()
            return False
    return bool(
        d.wait_for(
            lambda: all(d.monitor.status(r.name) == "UP" for r in d.stack.serving()),
            timeout=timeout,
        )
    )


def run(timings: Timings, out_dir: Path, only: set[int] | None = None) -> dict:
    planned = plan.SHORT if timings.mode == "short" else {n for n, _, _ in plan.SCENARIOS}
    chosen = [s for s in plan.SCENARIOS if s[0] in planned and (not only or s[0] in only)]
    began = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("report.json", "timeline.png", "requests.jsonl", "haproxy.log", "backup.dump"):
        (out_dir / stale).unlink(missing_ok=True)
    shutil.rmtree(out_dir / "logs", ignore_errors=True)

    old, new = ensure_images()
    clock = Clock()
    events = Events(clock)
    stack = Stack(out_dir, clock, events, timings)
    atexit.register(stack.teardown)
    monitor: Monitor | None = None
    load: Load | None = None
    outcomes: list[Outcome] = []
    verdicts: dict = {}
    fatal: str | None = None
    try:
        stack.start(old)
        monitor = Monitor(stack.haproxy, clock)
        monitor.start()
        load = Load(stack.haproxy.url, stack.authors, clock, timings.rate)
        load.start()
        window_start = events.add("action", f"load: {timings.rate:g} requests/s")
        time.sleep(timings.warmup)
        drill = Drill(stack, load, monitor, events, clock, timings, old, new, out_dir)
        # Scenario windows are contiguous: every request sent after the load began counts in
        # exactly one scenario (the first one's window includes the warm-up).
        for number, name, scenario in chosen:
            outcome = Outcome(number, name, start=window_start)
            events.add("scenario", f"{number}. {name}")
            if fatal:
                outcome.error = f"not run: {fatal}"
            elif not back_to_baseline(drill):
                fatal = "the replicas did not all come back after the previous scenario"
                outcome.error = fatal
            else:
                try:
                    scenario(drill, outcome)
                except Exception:
                    outcome.error = traceback.format_exc(limit=4)
                    print(outcome.error, file=sys.stderr, flush=True)
            if not outcome.end:
                drill.finish(outcome)
            window_start = outcome.end
            outcomes.append(outcome)
        load.stop()
        verdicts = verify_writes(load.snapshot(), stack.pg.direct_url)
    except Exception:
        fatal = traceback.format_exc(limit=6)
        print(fatal, file=sys.stderr, flush=True)
    finally:
        if load is not None:
            load.stop()
        if monitor is not None:
            monitor.stop()
        stack.teardown()
        remove_next_image(new)

    records = load.snapshot() if load else []
    log = read_log(stack.haproxy.log_path)
    scenarios = [
        summarize(
            o, records, verdicts, log, monitor.machine_between(o.start, o.end) if monitor else {}
        )
        for o in outcomes
    ]
    acked = [v for v in verdicts.values() if v.acked]
    report = {
        "mode": timings.mode,
        # A run of some scenarios (--only) proves nothing about the whole.
        "passed": fatal is None
        and not only
        and len(scenarios) == len(chosen)
        and all(s["passed"] for s in scenarios),
        "error": fatal,
        "started": datetime.fromtimestamp(clock.started_wall, UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - began, 1),
        "rate_per_s": timings.rate,
        "mix_per_100": MIX,
        "replicas": timings.replicas,
        "releases": {
            "old": {
                "image": old.name,
                "id": old.image[:12],
                "version": old.version,
                "color": old.color,
            },
            "new": {
                "image": new.name,
                "id": new.image[:12],
                "version": new.version,
                "color": new.color,
            },
        },
        "timings": timings.__dict__,
        "kubernetes": {
            **asdict(kube.web()),
            "endpoint_propagation_s": kube.PROPAGATION_DELAY,
            "ingress_tries": kube.INGRESS_TRIES,
            "readiness_detection_bound_s": lb.DETECTION_BOUND,
            "worker": asdict(kube.worker()),
        },
        "worker_settings": WORKER_SETTINGS,
        "totals": {
            "requests": sum(1 for r in records if r.phase == "load"),
            "failed": sum(1 for r in records if r.phase == "load" and not r.ok),
            "writes": len(verdicts),
            "writes_acknowledged": len(acked),
            "writes_acknowledged_missing": sum(1 for v in acked if not v.applied),
            "writes_applied_twice": sum(1 for v in verdicts.values() if v.duplicate),
            "writes_half_applied": sum(1 for v in verdicts.values() if v.incomplete),
        },
        "scenarios": scenarios,
        "events": [{"t": round(e.t, 2), "kind": e.kind, "label": e.label} for e in events.items],
    }
    write_report(out_dir / "report.json", report)
    with (out_dir / "requests.jsonl").open("w") as f:
        for record in records:
            f.write(json.dumps(record.as_json(), default=str) + "\n")
    try:
        server_colors = {r.name: r.release.color for r in stack.replicas}
        plot_timeline(
            out_dir / "timeline.png",
            records,
            events.items,
            outcomes,
            monitor.up_count() if monitor else [],
            monitor.machine if monitor else [],
            PLOT_COLORS,
            server_colors,
            f"kubeblog drill ({timings.mode}): {timings.rate:g} requests/s through HAProxy, "
            f"{timings.replicas} replicas, {report['started']}",
        )
    except Exception:
        traceback.print_exc()
    return report


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.drill", description=__doc__)
    parser.add_argument(
        "--short",
        action="store_true",
        default=os.environ.get("DRILL_SHORT") == "1",
        help="the CI version: same scenarios, shorter waits (also DRILL_SHORT=1)",
    )
    parser.add_argument("--out", type=Path, default=BUILD / "drill")
    parser.add_argument("--rate", type=float, help="requests per second (default: per mode)")
    parser.add_argument(
        "--only", help="comma-separated scenario numbers, to work on some (never a passing run)"
    )
    args = parser.parse_args(argv)
    timings = SHORT if args.short else FULL
    if args.rate:
        timings = Timings(**{**timings.__dict__, "rate": args.rate})
    signal.signal(signal.SIGTERM, _terminate)
    only = {int(n) for n in args.only.split(",")} if args.only else None
    report = run(timings, args.out.resolve(), only)
    print()
    print(table(report))
    for scenario in report["scenarios"]:
        title = f"{scenario['number']}. {scenario['name']}"
        for check in scenario["checks"]:
            if not check["passed"]:
                detail = json.dumps(check["detail"], default=str)[:600]
                print(f"FAILED {title}: {check['check']}: {detail}")
        if scenario["error"]:
            print(f"ERROR {title}: {scenario['error'].strip().splitlines()[-1]}")
    verdict = "PASSED" if report["passed"] else "FAILED"
    print(f"\n{verdict}: {args.out}/report.json, timeline.png ({report['duration_s']} s)")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
