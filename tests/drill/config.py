"""How long the drill waits, how hard it pushes: one set for `make drill`, one for CI."""

from __future__ import annotations

from dataclasses import dataclass

# Each replica: two gunicorn workers of four threads (two shared cores for everything here).
GUNICORN_WORKERS = 2
GUNICORN_THREADS = 4


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
)
