"""Real PostgreSQL and Redis servers for tests, drills and benchmarks, on 127.0.0.1 only.

Each server is a throwaway: its own data directory under a temporary folder, its own free
port, stopped by the PID it was started with. `python -m harness.servers -- CMD` runs CMD with
DATABASE_URL and REDIS_URL pointing at fresh servers, then stops them.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Wait until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def stop_process(
    process: subprocess.Popen | None, *, sig: int = signal.SIGTERM, timeout: float = 10.0
) -> None:
    """Stop a process this code started: `sig`, then SIGKILL if it is still up after `timeout`."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def _as_postgres() -> list[str]:
    # initdb refuses to run as root; run the server as the postgres user then.
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


class PostgresServer:
    """A throwaway PostgreSQL cluster with trust authentication on 127.0.0.1."""

    def __init__(self, port: int | None = None, database: str = "kubeblog") -> None:
        self.port = port or free_port()
        self.database = database
        self.root = Path(tempfile.mkdtemp(prefix="kubeblog-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._initialised = False

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *args: str) -> None:
        subprocess.run([*_as_postgres(), *args], check=True, capture_output=True, cwd=self.root)

    def start(self) -> PostgresServer:
        if not self._initialised:
            self._run(
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            )
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            "30",
            "-o",
            f"-k {self.root} -c listen_addresses=127.0.0.1 -p {self.port} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200 -c random_page_cost=1.1",  # as production (cluster.yaml)
            "start",
        )
        if not self._initialised:
            self._run(
                str(PG_BIN / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                self.database,
            )
            self._initialised = True
        return self

    @property
    def pid(self) -> int | None:
        pidfile = self.data / "postmaster.pid"
        try:
            return int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def pids(self) -> list[int]:
        """The postmaster and every process it started."""
        if self.pid is None:
            return []
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.pid)], capture_output=True, text=True
        ).stdout
        return [self.pid, *(int(pid) for pid in out.split())]

    def freeze(self) -> list[int]:
        """SIGSTOP every process of the server (a hung server: the kernel still accepts
        connections and acknowledges data, nothing answers); returns the PIDs to thaw."""
        pids = self.pids()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        return pids

    @staticmethod
    def thaw(pids: list[int]) -> None:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (mode: smart, fast or immediate) if it runs."""
        if self.pid is not None:
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.destroy()


class RedisServer:
    """A throwaway Redis on 127.0.0.1 with no persistence. With a `password`, every client
    must authenticate with it (requirepass), as in the deployments, and `url` carries it."""

    def __init__(self, port: int | None = None, *, password: str | None = None) -> None:
        self.port = port or free_port()
        self.password = password
        self.root = Path(tempfile.mkdtemp(prefix="kubeblog-redis-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        auth = ["--requirepass", self.password] if self.password else []
        self.process = subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
                "--protected-mode",
                "yes",
                *auth,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self

    def freeze(self) -> None:
        """SIGSTOP the server: connections are accepted by the kernel, nothing answers."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.destroy()


def main(argv: list[str]) -> int:
    """Run a command with fresh PostgreSQL and Redis servers in its environment."""
    if "--" in argv:
        argv = argv[argv.index("--") + 1 :]
    with PostgresServer() as pg, RedisServer() as redis:
        env = {**os.environ, "DATABASE_URL": pg.url, "REDIS_URL": redis.url}
        return subprocess.call(argv, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
