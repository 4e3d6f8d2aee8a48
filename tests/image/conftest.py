"""The image suite's fixtures: podman, the image built once per run, and containers of it.

Containers use the host's network namespace (`--network host`): the throwaway PostgreSQL and
Redis listen on 127.0.0.1 only, and a container in its own network namespace could not reach
the host's loopback. Each app container therefore gets free ports for gunicorn ($PORT) and the
metrics server ($METRICS_PORT). Every container is named by this run and removed by that name.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.gunicorn import NO_OBJECT_STORE
from harness.http import http_get
from harness.paths import project_version
from harness.podman import RESTRICTED, PodmanError, build_image, env_args, podman
from harness.report import Figures
from harness.servers import PostgresServer, RedisServer, free_port

IMAGE = "kubeblog:dev"
SECRET_KEY = "image-tests-only-not-a-secret"

FIGURES = Figures("kubeblog image figures")
report = FIGURES.add  # a figure for the summary printed at the end of the run


def pytest_terminal_summary(terminalreporter) -> None:
    FIGURES.write(terminalreporter)


@dataclass
class Image:
    name: str
    version: str
    base: str


@dataclass
class AppContainer:
    name: str
    port: int
    metrics_port: int
    cold_start: float  # seconds from `podman run` to the first 200 from /readyz

    def get(self, path: str, **kwargs):
        return http_get(self.port, path, **kwargs)

    def get_metrics(self):
        return http_get(self.metrics_port, "/metrics")

    def logs(self) -> str:
        result = podman("logs", self.name, check=False)
        return (result.stdout + result.stderr)[-4000:]


@pytest.fixture(scope="session")
def podman_works() -> None:
    """Skip the container tests only where podman cannot run at all."""
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (scripts/system-deps.sh image installs it)")
    info = podman("info", "--format", "{{.Host.OCIRuntime.Name}}", check=False, timeout=60)
    if info.returncode != 0:
        pytest.skip(f"podman cannot run here: {info.stderr.strip().splitlines()[-1:]}")


@pytest.fixture(scope="session")
def image(podman_works) -> Image:
    """kubeblog:dev built from the working tree, once per run (layer cache makes a rebuild of
    an unchanged tree take seconds, so an image built by `make image` is reused)."""
    version = project_version()
    started = time.monotonic()
    try:
        build_image(version, timeout=600)
    except PodmanError as exc:
        pytest.fail(str(exc))
    report(f"build (scripts/build-image.sh {version}, podman): {time.monotonic() - started:.1f} s")
    labels = json.loads(podman("image", "inspect", IMAGE, "--format", "{{json .Labels}}").stdout)
    return Image(IMAGE, version, labels["org.opencontainers.image.base.name"])


@pytest.fixture(scope="session")
def postgres():
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis():
    if shutil.which("redis-server") is None and not Path("/usr/bin/redis-server").exists():
        yield None  # the app then caches in memory; every other check still holds
        return
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def migrated(image, postgres) -> None:
    """Migrations and the first administrator, by one-off containers of the image, as a
    Kubernetes Job or the compose migrate service runs them."""
    env = _env(postgres, None, free_port(), free_port())
    env.update(DJANGO_SUPERUSER_USERNAME="admin", DJANGO_SUPERUSER_PASSWORD="image-tests-pw")
    result = podman(
        "run", "--rm", "--read-only", *RESTRICTED, *env_args(env), image.name,
        "sh", "-c", "python manage.py migrate_locked && python manage.py ensure_superuser",
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "ensure_superuser: admin created" in result.stdout


def _env(postgres, redis, port: int, metrics_port: int, **extra: str) -> dict[str, str]:
    env = {
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": postgres.url,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "EMAIL_HOST": "console",
        **NO_OBJECT_STORE,
        "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback; HTTPS is the proxy's job
        "SECURE_COOKIES": "false",
        "PORT": str(port),
        "METRICS_PORT": str(metrics_port),
        **extra,
    }
    if redis is not None:
        env["REDIS_URL"] = redis.url
    return env


def wait_until_ready(container: AppContainer, started: float, timeout: float = 30.0) -> float:
    """Seconds from `started` until /readyz answers 200; fails with the logs if it never does."""
    deadline = started + timeout
    while time.monotonic() < deadline:
        try:
            status, _, _ = container.get("/readyz", timeout=1)
            if status == 200:
                return time.monotonic() - started
        except OSError:
            pass
        state = podman("inspect", container.name, "--format", "{{.State.Status}}", check=False)
        if state.stdout.strip() not in ("running", "created", "configured"):
            pytest.fail(f"{container.name} is {state.stdout.strip()}:\n{container.logs()}")
        time.sleep(0.05)
    pytest.fail(f"{container.name} not ready after {timeout}s:\n{container.logs()}")


@pytest.fixture(scope="session")
def start_app(image, postgres, redis, migrated):
    """Start app containers of the image; every one is removed at the end of the session."""
    names: list[str] = []

    def start(*, read_only: bool = True, **extra_env: str) -> AppContainer:
        name = f"kubeblog-image-test-{uuid.uuid4().hex[:8]}"
        port, metrics_port = free_port(), free_port()
        env = _env(postgres, redis, port, metrics_port, POD_NAME=name, **extra_env)
        flags = ["--read-only", *RESTRICTED] if read_only else RESTRICTED
        started = time.monotonic()
        names.append(name)
        podman("run", "--detach", "--name", name, *flags, *env_args(env), image.name)
        container = AppContainer(name, port, metrics_port, cold_start=0.0)
        container.cold_start = wait_until_ready(container, started)
        return container

    yield start
    for name in names:
        podman("rm", "--force", "--time", "0", name, check=False)


@pytest.fixture(scope="session")
def app(start_app) -> AppContainer:
    """The app as Kubernetes would run it: read-only root, no capabilities, UID 10001."""
    container = start_app()
    report(f"cold start (podman run -> first 200 on /readyz): {container.cold_start:.2f} s")
    return container
