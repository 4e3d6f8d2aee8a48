"""HAProxy for the drill: the process, its runtime API, a monitor of server states, its log."""

from __future__ import annotations

import csv
import io
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.paths import ROOT
from harness.servers import free_port, stop_process, wait_for_port
from tests.drill import kube
from tests.drill.clock import Clock

WATCH_SLACK = 1.0

CONFIG = ROOT / "deploy/local/haproxy-drill.cfg"
BACKEND = "web"
# The longest a replica that stops answering keeps getting new requests: its readiness probe
# fails `failureThreshold` times (tests/drill/kube.Probe.detection_bound), then the change
# takes up to the longest propagation delay to reach the proxy, plus a second of timer slack
# on a shared, busy machine.
DETECTION_BOUND = kube.web().readiness.detection_bound + kube.PROPAGATION_DELAY[1] + WATCH_SLACK
SERVER_TIMEOUT = kube.web().proxy_read_timeout


def config_env(port: int, socket_path: Path) -> dict[str, str]:
    """The environment deploy/local/haproxy-drill.cfg reads its parameters from."""
    web = kube.web()
    return {
        **os.environ,
        "DRILL_HTTP_PORT": str(port),
        "DRILL_HAPROXY_SOCKET": str(socket_path),
        "DRILL_CONNECT_TIMEOUT": f"{int(web.proxy_connect_timeout * 1000)}ms",
        "DRILL_SERVER_TIMEOUT": f"{int(web.proxy_read_timeout * 1000)}ms",
    }


class HAProxy:
    """`haproxy -db` on 127.0.0.1, started and stopped by its PID, logging to a file."""

    def __init__(self, out_dir: Path) -> None:
        self.port = free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="kubeblog-drill-haproxy-"))
        self.socket_path = self._dir / "admin.sock"
        self.log_path = out_dir / "haproxy.log"
        self.process: subprocess.Popen | None = None
        self._log_file = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        return config_env(self.port, self.socket_path)

    def check_config(self) -> None:
        subprocess.run(
            ["haproxy", "-c", "-q", "-f", str(CONFIG)],
            env=self._env(),
            check=True,
            capture_output=True,
        )

    def start(self) -> HAProxy:
        self.check_config()
        self._log_file = self.log_path.open("wb")
        self.process = subprocess.Popen(
            ["haproxy", "-db", "-f", str(CONFIG)],
            env=self._env(),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port)
        deadline = time.monotonic() + 10
        while not self.socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        stop_process(self.process)
        if self._log_file:
            self._log_file.close()
            self._log_file = None
        shutil.rmtree(self._dir, ignore_errors=True)

    # --- runtime API ----------------------------------------------------------------------
    def cli(self, command: str, timeout: float = 5.0) -> str:
        """One runtime API command (or several separated by ';'); returns the answer."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(timeout)
            sock.connect(str(self.socket_path))
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def add_server(self, name: str, port: int) -> None:
        """Add a replica's endpoint, not ready: in maintenance until the kubelet says ready."""
        answer = self.cli(f"add server {BACKEND}/{name} 127.0.0.1:{port}")
        if "New server registered" not in answer:
            raise RuntimeError(f"add server {name}: {answer.strip()}")

    def set_state(self, name: str, state: str) -> None:
        """ready, drain (no new requests, in-flight ones finish) or maint."""
        answer = self.cli(f"set server {BACKEND}/{name} state {state}").strip()
        if answer:
            raise RuntimeError(f"set server {name} state {state}: {answer}")

    def del_server(self, name: str, timeout: float = 15.0) -> None:
        """Remove a replica's endpoint; HAProxy refuses while it still holds connections."""
        self.set_state(name, "maint")
        deadline = time.monotonic() + timeout
        answer = ""
        while time.monotonic() < deadline:
            self.cli(f"shutdown sessions server {BACKEND}/{name}")
            answer = self.cli(f"del server {BACKEND}/{name}").strip()
            if "Server deleted" in answer or "No such server" in answer:
                return
            time.sleep(0.2)
        raise RuntimeError(f"del server {name}: {answer}")

    def servers(self) -> dict[str, dict[str, str]]:
        """`show stat` rows of the backend's servers, by server name."""
        text = self.cli("show stat").lstrip("# ")
        rows = csv.DictReader(io.StringIO(text))
        servers = {
            row["svname"]: row
            for row in rows
            if row.get("pxname") == BACKEND and row.get("svname") not in ("BACKEND", None)
        }
        for row in servers.values():
            # Without health checks a server in rotation reads "no check".
            if row["status"] == "no check":
                row["status"] = "UP"
        return servers


@dataclass
class Transition:
    t: float
    server: str
    old: str
    new: str


@dataclass
class ServerSample:
    t: float
    status: dict[str, str]  # server name -> UP / DOWN / MAINT / DRAIN / "UP 1/2" ...
    sessions: dict[str, int]  # server name -> total requests dispatched to it (stot)


@dataclass
class Monitor:
    """Samples every server's state and request counter four times a second."""

    haproxy: HAProxy
    clock: Clock
    interval: float = 0.25
    samples: list[ServerSample] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    # The whole machine, which the drill shares: (t, CPU busy %, runnable tasks).
    machine: list[tuple[float, float, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="haproxy-monitor", daemon=True)
        self._lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        last: dict[str, str] = {}
        cpu = _cpu_times()
        # Bounded: at most two hours of samples, whatever happens.
        for _ in range(int(7200 / self.interval)):
            if self._stop.is_set():
                return
            now_cpu = _cpu_times()
            if cpu and now_cpu and now_cpu[1] > cpu[1]:
                busy = 100 * (1 - (now_cpu[0] - cpu[0]) / (now_cpu[1] - cpu[1]))
                with self._lock:
                    self.machine.append((self.clock.now(), round(busy, 1), _runnable()))
            cpu = now_cpu
            try:
                rows = self.haproxy.servers()
            except OSError:
                rows = None
            if rows is not None:
                t = self.clock.now()
                status = {name: row["status"] for name, row in rows.items()}
                sessions = {name: int(row["stot"] or 0) for name, row in rows.items()}
                with self._lock:
                    self.samples.append(ServerSample(t, status, sessions))
                    for name, state in status.items():
                        if last.get(name) != state:
                            self.transitions.append(Transition(t, name, last.get(name, "-"), state))
                    for name in set(last) - set(status):
                        self.transitions.append(Transition(t, name, last[name], "removed"))
                last = status
            self._stop.wait(self.interval)

    def status(self, name: str) -> str | None:
        with self._lock:
            return self.samples[-1].status.get(name) if self.samples else None

    def first_time(self, name: str, predicate, after: float) -> float | None:
        """When the server's status first satisfied `predicate` after time `after`."""
        with self._lock:
            for sample in self.samples:
                if sample.t >= after and name in sample.status and predicate(sample.status[name]):
                    return sample.t
        return None

    def sessions_between(self, name: str, start: float, end: float) -> int:
        """Requests HAProxy dispatched to `name` between two sample times."""
        with self._lock:
            inside = [
                s.sessions[name] for s in self.samples if start <= s.t <= end and name in s.sessions
            ]
        return (inside[-1] - inside[0]) if len(inside) >= 2 else 0

    def machine_between(self, start: float, end: float) -> dict:
        """How busy the shared machine was: mean CPU busy % and the longest run queue."""
        with self._lock:
            inside = [m for m in self.machine if start <= m[0] <= end]
        if not inside:
            return {}
        return {
            "machine_cpu_busy_pct": round(sum(m[1] for m in inside) / len(inside), 1),
            "machine_run_queue_max": max(m[2] for m in inside),
        }

    def fewest_up(self, start: float, end: float) -> int | None:
        """The fewest replicas UP at once between two times."""
        counts = [n for t, n in self.up_count() if start <= t <= end]
        return min(counts) if counts else None

    def up_count(self) -> list[tuple[float, int]]:
        with self._lock:
            return [
                (s.t, sum(1 for v in s.status.values() if v.startswith("UP"))) for s in self.samples
            ]


def _cpu_times() -> tuple[int, int] | None:
    """(idle + iowait, total) jiffies of all CPUs, from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    values = [int(v) for v in fields]
    return values[3] + values[4], sum(values[:8])


def _runnable() -> int:
    """Tasks running or waiting for a CPU right now (procs_running in /proc/stat)."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("procs_running"):
            return int(line.split()[1])
    return 0


@dataclass(frozen=True)
class LogLine:
    accepted: float  # wall-clock seconds (epoch)
    request_id: str
    server: str
    method: str
    status: int
    total_ms: int
    retries: int
    redispatched: bool
    termination: str


def read_log(path: Path) -> dict[str, list[LogLine]]:
    """HAProxy's per-request lines (deploy/local/haproxy-drill.cfg log-format), every one of
    them, by request id: the load never sends a request id twice, so a second line for one
    would be a request sent twice, and is kept to be seen."""
    lines: dict[str, list[LogLine]] = {}
    if not path.exists():
        return lines
    for raw in path.read_text(errors="replace").splitlines():
        parts = raw.split(" ")
        if len(parts) < 9 or "/" not in parts[2]:
            continue
        try:
            retries = parts[6]
            line = LogLine(
                accepted=float(parts[0]),
                request_id=parts[1],
                server=parts[2].split("/", 1)[1],
                method=parts[3],
                status=int(parts[4]),
                total_ms=int(parts[5]),
                retries=int(retries.lstrip("+")),
                redispatched=retries.startswith("+"),
                termination=parts[7],
            )
        except ValueError:
            continue
        lines.setdefault(line.request_id, []).append(line)
    return lines
