"""The app servers under test and what the benchmark reads from them (memory, request count)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path

import requests

from harness.gunicorn import Gunicorn, collectstatic, migrate, production_env
from harness.paths import BUILD, ROOT
from harness.servers import PostgresServer, RedisServer

STATIC_ROOT = BUILD / "bench" / "static"
HTTPS = {"X-Forwarded-Proto": "https"}


def app_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """A replica's environment with production defaults, pointed at the benchmark servers.

    Unlike the tests' environment, the gunicorn worker and thread counts are not pinned: the
    production defaults (config/gunicorn.conf.py) apply. Requests arrive as if through a
    TLS-terminating ingress (X-Forwarded-Proto: https), so the HTTPS redirect stays on.
    """
    env = production_env(
        database_url,
        REDIS_URL=redis_url,
        STATIC_ROOT=str(STATIC_ROOT),
        SECURE_SSL_REDIRECT="true",
        # The load generators speak plain HTTP to 127.0.0.1; a Secure cookie would not come back.
        SECURE_COOKIES="false",
        APP_VERSION="bench",
        # Workers are never recycled here, so a leak shows in the memory figures.
        GUNICORN_MAX_REQUESTS="0",
    )
    env.pop("GUNICORN_WORKERS")
    env.pop("GUNICORN_THREADS")
    env.update(extra)
    return env


def data_servers(stack: contextlib.ExitStack) -> dict[str, str]:
    """PostgreSQL and Redis for a benchmark (stopped when `stack` closes), migrated, with the
    static files collected: the app servers' environment."""
    pg = stack.enter_context(PostgresServer())
    redis = stack.enter_context(RedisServer())
    env = app_env(pg.url, redis.url, TRUSTED_PROXY_COUNT="2")
    migrate(env)
    collectstatic(env)
    return env


def seeded(env: dict[str, str], data_file: Path) -> dict:
    """The benchmark's data in its database (bench/seed.py, both stages); what it wrote."""
    for stage in ("small", "full"):
        subprocess.run([sys.executable, "-m", "bench.seed", stage, str(data_file)],
                       cwd=ROOT, env=env, check=True, capture_output=True)  # fmt: skip
    return json.loads(data_file.read_text())


def measured_pages(data: dict) -> dict[str, str]:
    """The pages every figure is measured on, from a seed's data (bench/seed.py)."""
    return {
        "home": "/",
        "detail": data["detail_url"],
        "search": f"/search/?q={data['search_term']}",
        "feed": "/feed/",
    }


class AppServer(Gunicorn):
    """A gunicorn with production settings, plus memory and request-count readings."""

    def __init__(self, name: str, env: dict[str, str], cwd: Path = ROOT) -> None:
        super().__init__({**env, "POD_NAME": f"bench-{name}"}, cwd)
        self.name = name

    def served(self) -> int:
        """Requests answered so far, all workers together (from the metrics port)."""
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith("kubeblog_http_requests_total{"):
                total += float(line.rsplit(" ", 1)[1])
        return int(total)

    def memory(self) -> dict[int, dict[str, float]]:
        """RSS and PSS in MB of each worker process, by PID."""
        result = {}
        for pid in sorted(self.worker_pids()):
            with contextlib.suppress(OSError, ValueError):
                result[pid] = {"rss_mb": _kb(pid, "status", "VmRSS") / 1024}
                result[pid]["pss_mb"] = _kb(pid, "smaps_rollup", "Pss") / 1024
        return result


def _kb(pid: int, name: str, field: str) -> float:
    for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1])
    raise ValueError(f"{field} not in /proc/{pid}/{name}")


def cold_start(env: dict[str, str], timeout: float = 30.0) -> float:
    """Seconds from starting gunicorn to the first 200 from /readyz."""
    server = AppServer("cold", env)
    server.start(wait=False)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(server.url + "/readyz", timeout=5).status_code == 200:
                    return time.monotonic() - server.started_at
            if server.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{server.output()}")
            time.sleep(0.01)
        raise TimeoutError(f"/readyz not 200 within {timeout}s:\n{server.output()}")
    finally:
        server.close()
