"""The task queue, measured: `python -m bench.tasks` (also run by `make bench`).

Starts PostgreSQL, a real SMTP server (harness.smtp) and worker processes (`manage.py worker`,
production settings, polling every second as in production), then:

1. latency: mails queued one at a time, 0.2 s apart, from here (as a request would, in its
   transaction): the time from the commit to the relay receiving the mail, p50 / p95 / max;
2. throughput: a burst of mails queued at once, drained by one and by two workers;
3. the worker gone for a minute: mails keep being queued (nothing fails, nothing is lost),
   the queue's depth and its oldest task's age grow, as the metrics show; a worker started
   again drains it, each mail once.

Writes build/bench/tasks.json and prints a summary. Figures are this machine's, in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from harness.gunicorn import migrate, production_env
from harness.paths import BUILD
from harness.servers import PostgresServer
from harness.smtp import SmtpServer
from harness.worker import WorkerProcess

OUT = BUILD / "bench" / "tasks.json"


def _received_at(smtp: SmtpServer) -> dict[str, float]:
    """Mail key (its subject) → when it was received, from the server's own clock."""
    return dict(smtp.arrivals)


def _queue(prefix: str, n: int, gap: float = 0.0) -> dict[str, float]:
    from ops.mail import queue_mail

    sent = {}
    for i in range(n):
        key = f"{prefix}-{i}"
        queue_mail(key=key, to="reader@example.com", subject=key, body="measured")
        sent[key] = time.time()
        if gap:
            time.sleep(gap)
    return sent


def _latencies(sent: dict[str, float], smtp: SmtpServer) -> list[float]:
    received = _received_at(smtp)
    return sorted(received[k] - t for k, t in sent.items() if k in received)


def _queue_now() -> tuple[int, float]:
    """The queue's depth and its oldest task's age, as the worker's metrics report them."""
    from ops.worker import QueueCollector

    samples = {
        (family.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in QueueCollector().collect()
        for sample in family.samples
    }
    return (
        int(samples[("kubeblog_tasks", (("state", "ready"),))]),
        round(samples[("kubeblog_tasks_oldest_ready_age_seconds", ())], 1),
    )


def _summary(values: list[float]) -> dict:
    if not values:
        return {}
    return {
        "n": len(values),
        "p50_s": round(statistics.median(values), 3),
        "p95_s": round(values[int(0.95 * (len(values) - 1))], 3),
        "max_s": round(values[-1], 3),
    }


def measure(args) -> dict:
    results: dict = {}
    with PostgresServer() as pg, SmtpServer() as smtp:
        env = production_env(pg.url)
        migrate(env)
        os.environ.update(
            {k: v for k, v in env.items() if k not in ("PATH",)} | {"EMAIL_HOST": "console"}
        )
        from config.startup import load_settings_or_exit

        load_settings_or_exit("config.settings.production")
        import django

        django.setup()

        def worker() -> WorkerProcess:
            return WorkerProcess(pg.url, WORKER_POLL_INTERVAL="1", **smtp.env())

        # 1. latency, one mail at a time
        with worker():
            sent = _queue("latency", args.latency, gap=0.2)
            smtp.wait_for(args.latency, 60)
        results["latency_commit_to_relay"] = _summary(_latencies(sent, smtp))

        # 2. throughput: a burst, one worker then two
        for workers in (1, 2):
            before = len(smtp.messages)
            processes = [worker().start() for _ in range(workers)]
            started = time.time()
            sent = _queue(f"burst{workers}", args.burst)
            smtp.wait_for(before + args.burst, 300)
            took = time.time() - started
            for p in processes:
                p.terminate()
            results[f"burst_{workers}_worker"] = {
                "mails": args.burst,
                "seconds": round(took, 2),
                "mails_per_s": round(args.burst / took, 1),
            }

        # 3. the worker gone for a minute
        before = len(smtp.messages)
        sent = {}
        gone_started = time.time()
        while time.time() - gone_started < args.gone:
            sent |= _queue(f"gone-{len(sent)}", 1)
            time.sleep(1)
        depth, oldest = _queue_now()
        back = worker().start()
        restarted = time.time()
        smtp.wait_for(before + len(sent), 120)
        drained = time.time() - restarted
        time.sleep(2)
        back.terminate()
        keys = [m["Subject"] for m in smtp.messages[before:]]
        results["worker_gone"] = {
            "seconds_gone": args.gone,
            "mails_queued_meanwhile": len(sent),
            "queue_depth_when_back": depth,
            "oldest_task_age_when_back_s": oldest,
            "drained_in_s": round(drained, 2),
            "mails_received": len(keys),
            "duplicates": len(keys) - len(set(keys)),
        }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tasks", description=__doc__)
    parser.add_argument("--latency", type=int, default=50, help="mails, one at a time")
    parser.add_argument("--burst", type=int, default=300, help="mails queued at once")
    parser.add_argument("--gone", type=int, default=60, help="seconds without a worker")
    args = parser.parse_args(argv)
    results = measure(args)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
