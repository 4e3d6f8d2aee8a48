"""A real gunicorn running kubeblog with production settings, for tests on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests

from harness.paths import BUILD, ROOT
from harness.servers import free_port, stop_process

GUNICORN = Path(sys.executable).parent / "gunicorn"


# Production requires an object store. Where a test starts none (harness.s3 is the real one),
# the settings name one that is down: pages render as ever, an upload fails cleanly.
NO_OBJECT_STORE = {
    "S3_BUCKET": "kubeblog-media",
    "S3_ENDPOINT_URL": "http://127.0.0.1:9",
    "S3_ADDRESSING_STYLE": "path",
    "MEDIA_URL": "http://127.0.0.1:9/kubeblog-media/",
}


def production_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment a replica gets, pointed at this machine's test servers."""
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "test-only-gunicorn-secret-key-" + "x" * 30,
        "DATABASE_URL": database_url,
        "ALLOWED_HOSTS": "localhost,127.0.0.1",
        "EMAIL_HOST": "console",  # the tests that read mail start an SMTP server (harness.smtp)
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_COOKIES": "false",
        "APP_VERSION": "test",
        "POD_NAME": "test-replica",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "4",
        "GUNICORN_GRACEFUL_TIMEOUT": "10",
        "STATIC_ROOT": str(BUILD / "test-static"),
        **NO_OBJECT_STORE,
    }
    env.update(extra)
    return env


def collectstatic(env: dict[str, str]) -> None:
    """Production settings need the static manifest; build it again only when a static file
    is newer than it (a stale stylesheet would make the browser tests judge old CSS)."""
    manifest = Path(env["STATIC_ROOT"]) / "staticfiles.json"
    sources = [p for p in (ROOT / "static").rglob("*") if p.is_file()]
    if manifest.exists() and all(p.stat().st_mtime <= manifest.stat().st_mtime for p in sources):
        return
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


def manage(env: dict[str, str], *args: str) -> str:
    """`python manage.py *args` in `env`; what it printed (it must succeed)."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def migrate(env: dict[str, str]) -> None:
    manage(env, "migrate_locked", "-v0")


def site_with_editor(database_url: str, editor: tuple[str, str], **extra: str) -> dict[str, str]:
    """production_env(database_url, **extra), its database migrated, with `editor` (user name,
    password) as the superuser the admin Job would make (ensure_superuser)."""
    env = production_env(
        database_url,
        DJANGO_SUPERUSER_USERNAME=editor[0],
        DJANGO_SUPERUSER_PASSWORD=editor[1],
        **extra,
    )
    migrate(env)
    manage(env, "ensure_superuser")
    return env


class Gunicorn:
    """Start with `start()`, stop with `terminate()` (SIGTERM) or `kill()`; logs in `log`."""

    def __init__(self, env: dict[str, str], cwd: Path = ROOT) -> None:
        self.cwd = cwd  # the tree whose code it runs
        self.port = free_port()
        self.metrics_port = free_port()
        self.env = {**env, "PORT": str(self.port), "METRICS_PORT": str(self.metrics_port)}
        self.log = Path(tempfile.mkstemp(prefix="kubeblog-gunicorn-", suffix=".log")[1])
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> Gunicorn:
        collectstatic(self.env)
        self.started_at = time.monotonic()
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(GUNICORN), "-c", "config/gunicorn.conf.py"],
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        if wait:
            self.wait_until("/healthz", 200)
        return self

    def get(self, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        kwargs.setdefault("allow_redirects", False)
        return requests.get(self.url + path, **kwargs)

    def wait_until(self, path: str, status: int, timeout: float = 20.0) -> float:
        """Poll `path` until it answers `status`; return the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited {self.process.returncode}:\n{self.output()}")
            try:
                if self.get(path, timeout=5).status_code == status:
                    return time.monotonic() - started
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"{path} did not answer {status} within {timeout}s\n{self.output()}")

    def all_workers(self, timeout: float = 20.0) -> set[int]:
        """The worker PIDs, once as many are running as GUNICORN_WORKERS asks for."""
        expected = int(self.env.get("GUNICORN_WORKERS", "1"))
        deadline = time.monotonic() + timeout
        while len(pids := self.worker_pids()) < expected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(pids)} of {expected} workers after {timeout}s")
            time.sleep(0.05)
        return pids

    def worker_pids(self) -> set[int]:
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.process.pid)], capture_output=True, text=True
        ).stdout
        return {int(pid) for pid in out.split()}

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 30) -> int:
        return self.process.wait(timeout)

    def stop(self) -> None:
        stop_process(self.process, timeout=30)

    def metrics(self) -> str:
        """What the metrics port serves: Prometheus text, every worker's counts together."""
        return requests.get(f"http://127.0.0.1:{self.metrics_port}/", timeout=5).text

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_log(self, found: Callable[[list[dict]], bool], timeout: float = 10.0):
        """Poll the JSON log lines until `found(lines)` is true; return them."""
        deadline = time.monotonic() + timeout
        while not found(lines := self.json_lines()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"not in the log after {timeout}s:\n{self.output()}")
            time.sleep(0.05)
        return lines

    def json_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.output().splitlines() if line.strip()]

    def __enter__(self) -> Gunicorn:
        return self.start()

    def close(self) -> None:
        """Stop the server and remove its log."""
        self.stop()
        self.log.unlink(missing_ok=True)

    def __exit__(self, *exc) -> None:
        self.close()
