"""How long the drill waits, how hard it pushes: one set for `make drill`, one for CI."""

from __future__ import annotations

from dataclasses import dataclass

# Each replica: two gunicorn workers of four threads (two shared cores for everything here).
GUNICORN_WORKERS = 2
GUNICORN_THREADS = 4
# The task tier's settings in the drill (config/env.py declares each), shorter than production's
# so that what a worker does is seen within a scenario:
WORKER_SETTINGS = {
    # An author hears of comments 2 s after the first one, at most once per 5 s (60 s and
    # 900 s in production): the load's comments turn into mail all through the drill.
    "MODERATION_MAIL_DELAY": "2",
    "MODERATION_MAIL_INTERVAL": "5",
    # A failed attempt comes back after 1 s, then 2 s, 4 s ... (10 s first in production).
    "TASK_RETRY_DELAY": "1",
    # A mail's sending lease lasts the time limit (ops/mail.py), so a mail whose worker was
    # killed mid-conversation waits this long before another worker may send it (60 s in
    # production). Still longer than one SMTP step may take (EMAIL_TIMEOUT, 10 s), and a
    # shorter limit only hands slow tasks back sooner: stricter, not kinder.
    "TASK_TIME_LIMIT": "15",
}


@dataclass(frozen=True)
class Timings:
    mode: str
    rate: float  # requests per second sent through HAProxy, all the time, whatever happens
    replicas: int  # the Deployment's replica count
    warmup: float  # steady load before the first scenario
    settle: float  # steady load before and after each fault
    min_ready: float  # a new replica stays ready this long before an old one goes
    scale_hold: float  # seconds at one replica in scenario 3
    pg_down: float  # seconds PostgreSQL stays stopped in scenario 4
    redis_down: float  # seconds Redis stays dead in scenario 5
    workers: int  # the worker Deployment's replica count
    mails: int  # mails scenario 13 queues at once before it kills a worker
    # The preStop wait, the grace period, GUNICORN_GRACEFUL_TIMEOUT and the probes are the
    # manifests' own (tests/drill/kube.py). A hung replica (scenario 6) stays frozen until its
    # readiness probe has taken it out of rotation, and a little longer.


FULL = Timings(
    mode="full",
    rate=60.0,
    replicas=3,
    warmup=8.0,
    settle=8.0,
    min_ready=3.0,
    scale_hold=12.0,
    pg_down=10.0,
    redis_down=20.0,
    workers=2,
    mails=200,
)

SHORT = Timings(
    mode="short",
    rate=40.0,
    replicas=3,
    warmup=3.0,
    settle=3.0,
    min_ready=1.0,
    scale_hold=5.0,
    pg_down=5.0,
    redis_down=8.0,
    workers=2,
    mails=60,
)
