"""The drill's stack on 127.0.0.1: PostgreSQL, Redis, replicas of the image, HAProxy.

Every replica is a podman container of the real image, started as the Deployment starts a pod:
the same environment, read-only root with a tmpfs /tmp, UID 10001, no capabilities. The host's
network namespace (`--network host`) lets it reach the throwaway PostgreSQL and Redis, which
listen on 127.0.0.1 only, so each replica gets its own ports (as tests/image does).
Containers are named `kubeblog-drill-<drill pid>-<replica>` and removed by those names.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.http import http_get
from harness.paths import ROOT, project_version
from harness.podman import RESTRICTED, build_image, env_args, podman
from harness.servers import PostgresServer, RedisServer, free_port
from tests.drill.clock import Clock, Events
from tests.drill.config import GUNICORN_THREADS, GUNICORN_WORKERS, Timings
from tests.drill.haproxy import HAProxy

IMAGE = "localhost/kubeblog:dev"
RUN_PREFIX = f"kubeblog-drill-{os.getpid()}"
SECRET_KEY = "drill-only-not-a-secret-" + "k" * 32
# A replica runs as the Deployment runs a pod (harness.podman.RESTRICTED), read-only.
POD_FLAGS = [
    "--read-only",
    *RESTRICTED,
    # Kubernetes ignores the image's HEALTHCHECK and so does the drill: HAProxy probes.
    "--no-healthcheck",
    "--log-driver",
    "k8s-file",
]


@dataclass(frozen=True)
class Release:
    image: str  # the image ID every container of this release runs
    name: str  # the tag it had when the drill began
    version: str
    color: str


def next_version(version: str) -> str:
    parts = version.split(".")
    if len(parts) == 3 and parts[2].isdigit():
        return f"{parts[0]}.{parts[1]}.{int(parts[2]) + 1}"
    return f"{version}-next"


def ensure_images() -> tuple[Release, Release]:
    """The current release (kubeblog:dev, orange) and the next one (maroon).

    kubeblog:dev is reused when it was built from this very commit with a clean tree (its
    revision label says so); otherwise scripts/build-image.sh builds it, which takes seconds
    when an earlier build left the layer cache warm, and minutes on a fresh machine. The drill
    must never pass on an image of older code. The next release is a real second image, as a
    rollout changes the image tag: `FROM kubeblog:dev` with the next version baked in, which
    builds in seconds. Its colour comes from the environment, as the ConfigMap gives it.
    """
    version = project_version()
    built_from, tree = _image_revision(), _tree_revision()
    if built_from is None or built_from != tree:
        print(
            f"[drill] building {IMAGE} of this tree: scripts/build-image.sh {version}", flush=True
        )
        build_image(version)
    else:
        print(f"[drill] reusing {IMAGE}, built from this commit", flush=True)
    # Pin both releases by image ID: another run on this machine may retag kubeblog:dev
    # while the drill is under way.
    old_id, labels = podman(
        "image", "inspect", IMAGE, "--format",
        '{{.Id}} {{index .Labels "org.opencontainers.image.version"}}',
    ).stdout.split()  # fmt: skip
    current = labels or version
    new_version = next_version(current)
    new_tag = f"localhost/{RUN_PREFIX}:{new_version}"
    with tempfile.TemporaryDirectory(prefix="kubeblog-drill-build-") as context:
        (Path(context) / "Containerfile").write_text(
            f"FROM {old_id}\n"
            f'LABEL org.opencontainers.image.version="{new_version}"\n'
            f"ENV APP_VERSION={new_version}\n"
        )
        podman("build", "--format", "docker", "-q", "-t", new_tag, context, timeout=300)
    new_id = podman("image", "inspect", new_tag, "--format", "{{.Id}}").stdout.strip()
    return (
        Release(old_id, IMAGE, current, "orange"),
        Release(new_id, new_tag, new_version, "maroon"),
    )


def remove_next_image(release: Release) -> None:
    """Remove the drill's own second image (its tag is this run's); kubeblog:dev stays."""
    podman("rmi", release.name, check=False, timeout=60)


def _image_revision() -> str | None:
    """The git revision kubeblog:dev was built from (its OCI label), None if it is missing."""
    result = podman(
        "image", "inspect", IMAGE, "--format",
        '{{index .Labels "org.opencontainers.image.revision"}}', check=False,
    )  # fmt: skip
    return result.stdout.strip() if result.returncode == 0 else None


def _tree_revision() -> str | None:
    """HEAD when the working tree is clean, else None (nothing can be known to match it)."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    clean = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "."], cwd=ROOT)
    if head.returncode != 0 or clean.returncode != 0:
        return None
    return head.stdout.strip()


def http_status(port: int, path: str, timeout: float = 4.0) -> int | None:
    """Status of GET http://127.0.0.1:port/path, None when nothing answers."""
    try:
        return http_get(port, path, {"Host": "localhost"}, timeout)[0]
    except OSError:
        return None


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (a stopped one is alive)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@dataclass
class Replica:
    name: str  # POD_NAME, and the server's name in HAProxy
    container: str
    port: int
    metrics_port: int
    release: Release
    started_at: float
    pid: int = 0  # host PID of the gunicorn master (the container's PID 1)
    restarts: int = 0
    restarted_at: list[float] = field(default_factory=list)
    registered: bool = False
    retiring: bool = False  # stopped on purpose: the supervisor leaves it alone
    removed: bool = False

    def readyz(self, timeout: float = 4.0) -> int | None:
        return http_status(self.port, "/readyz", timeout)


class Stack:
    """Start, change and stop the stack; every container and process it starts, it stops."""

    def __init__(self, out_dir: Path, clock: Clock, events: Events, timings: Timings) -> None:
        self.out_dir = out_dir
        self.clock = clock
        self.events = events
        self.timings = timings
        self.pg = PostgresServer()
        # Redis requires a password, as in the deployments; a new one every run.
        self.redis = RedisServer(password=secrets.token_urlsafe(24))
        self.haproxy = HAProxy(out_dir)
        self.replicas: list[Replica] = []
        self.authors = [(f"author{i}", secrets.token_urlsafe(16)) for i in range(1, 4)]
        self._containers: list[str] = []
        self._index = 0
        self._lock = threading.Lock()
        self._torn_down = False
        (out_dir / "logs").mkdir(parents=True, exist_ok=True)

    # --- start -----------------------------------------------------------------------------
    def start(self, release: Release) -> None:
        self.pg.start()
        self.redis.start()
        self.events.add("action", f"PostgreSQL on :{self.pg.port}, Redis on :{self.redis.port}")
        self.migrate(release)
        self.haproxy.start()
        self.events.add("action", f"HAProxy on :{self.haproxy.port}")
        replicas = self.start_replicas(release, self.timings.replicas)
        for replica in replicas:
            self.register(replica)

    def base_env(self, release: Release) -> dict[str, str]:
        t = self.timings
        return {
            "DJANGO_SECRET_KEY": SECRET_KEY,
            "DATABASE_URL": self.pg.url,
            "REDIS_URL": self.redis.url,  # carries the password
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "APP_VERSION": release.version,
            "THEME_COLOR": release.color,
            # Plain HTTP on loopback: TLS is the ingress's job.
            "SECURE_SSL_REDIRECT": "false",
            "SECURE_COOKIES": "false",
            "SECURE_HSTS_SECONDS": "0",
            "TRUSTED_PROXY_COUNT": "1",
            # Every comment comes from one address here; the limit is not under test.
            "COMMENT_RATE_LIMIT": "1000000",
            "GUNICORN_GRACEFUL_TIMEOUT": str(t.graceful_timeout),
            "GUNICORN_WORKERS": str(GUNICORN_WORKERS),
            "GUNICORN_THREADS": str(GUNICORN_THREADS),
            "LOG_LEVEL": "INFO",
        }

    def migrate(self, release: Release) -> None:
        """migrate_locked, then the authors, in a one-off container (the init container)."""
        env = self.base_env(release)
        env["DRILL_AUTHORS"] = ",".join(f"{u}:{p}" for u, p in self.authors)
        setup = (
            "import os\n"
            "from django.contrib.auth import get_user_model\n"
            "User = get_user_model()\n"
            "for pair in os.environ['DRILL_AUTHORS'].split(','):\n"
            "    name, password = pair.split(':', 1)\n"
            "    user, _ = User.objects.get_or_create(username=name)\n"
            "    user.set_password(password)\n"
            "    user.save()\n"
        )
        env["DRILL_SETUP"] = setup
        script = (
            "python manage.py migrate_locked && "
            "python manage.py shell -c \"import os; exec(os.environ['DRILL_SETUP'])\""
        )
        self.run_once(release, script, env=env)
        self.events.add("action", "migrate_locked and the authors, in a one-off container")

    def run_once(self, release: Release, script: str, *, env: dict[str, str] | None = None) -> str:
        """A one-off container of the release running `script`; its output."""
        env = env or self.base_env(release)
        name = f"{RUN_PREFIX}-once-{secrets.token_hex(3)}"
        self._containers.append(name)
        result = podman(
            "run", "--rm", "--name", name, *POD_FLAGS, *env_args(env), release.image,
            "sh", "-c", script, check=False, timeout=300,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"{script}: {result.stdout[-2000:]}{result.stderr[-2000:]}")
        return result.stdout + result.stderr

    def start_replica(self, release: Release, ready_timeout: float = 90.0) -> Replica:
        """podman run a replica and wait until its /readyz answers 200 (the kubelet's probe)."""
        with self._lock:
            self._index += 1
            name = f"web-{self._index}"
            container = f"{RUN_PREFIX}-{name}"
            self._containers.append(container)
        replica = Replica(
            name=name,
            container=container,
            port=free_port(),
            metrics_port=free_port(),
            release=release,
            started_at=self.clock.now(),
        )
        env = {
            **self.base_env(release),
            "POD_NAME": name,
            "PORT": str(replica.port),
            "METRICS_PORT": str(replica.metrics_port),
        }
        podman("run", "--detach", "--name", container, *POD_FLAGS, *env_args(env), release.image)
        replica.pid = self.container_pid(replica)
        with self._lock:
            self.replicas.append(replica)
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if replica.readyz(timeout=2) == 200:
                took = self.clock.now() - replica.started_at
                self.events.add(
                    "action", f"{name} ({release.version}, {release.color}) ready in {took:.1f}s"
                )
                return replica
            if not pid_alive(replica.pid):
                break
            time.sleep(0.1)
        raise RuntimeError(f"{name} never became ready:\n{self.logs(replica)[-3000:]}")

    def start_replicas(self, release: Release, count: int) -> list[Replica]:
        """Start several replicas at once, as a Deployment scales up."""
        results: list[Replica | BaseException] = []

        def one() -> None:
            try:
                results.append(self.start_replica(release))
            except BaseException as exc:  # reported below, in the caller's thread
                results.append(exc)

        threads = [threading.Thread(target=one) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors or len(results) != count:
            raise RuntimeError(f"starting {count} replicas failed: {errors[:1]}")
        return sorted(results, key=lambda r: int(r.name.split("-")[1]))  # type: ignore[union-attr]

    def container_pid(self, replica: Replica) -> int:
        pid = podman("inspect", replica.container, "--format", "{{.State.Pid}}").stdout.strip()
        return int(pid or 0)

    def register(self, replica: Replica, timeout: float = 30.0) -> float:
        """Add the replica to HAProxy (an endpoint appears) and wait until HAProxy sends it
        traffic; returns the seconds that took."""
        started = time.monotonic()
        self.haproxy.add_server(replica.name, replica.port)
        replica.registered = True
        while time.monotonic() - started < timeout:
            status = self.haproxy.servers().get(replica.name, {}).get("status", "")
            if status == "UP":
                return time.monotonic() - started
            time.sleep(0.1)
        raise RuntimeError(f"HAProxy never saw {replica.name} UP")

    def wait_up(self, replica: Replica, timeout: float = 30.0) -> float | None:
        """Wait until HAProxy has the replica UP; the drill time when it was, or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.haproxy.servers().get(replica.name, {}).get("status") == "UP":
                return self.clock.now()
            time.sleep(0.1)
        return None

    # --- change ----------------------------------------------------------------------------
    def serving(self) -> list[Replica]:
        with self._lock:
            return [r for r in self.replicas if r.registered and not r.retiring and not r.removed]

    def retire(self, replica: Replica) -> dict:
        """Take a replica away as Kubernetes deletes a pod; returns what happened, when.

        The endpoint is removed first (HAProxy `drain`: no new requests, those in flight
        finish), the preStop sleep keeps the replica serving meanwhile, then comes SIGTERM
        and gunicorn's graceful stop.
        """
        replica.retiring = True
        figures: dict = {"replica": replica.name}
        self.haproxy.set_state(replica.name, "drain")
        self.events.add("action", f"{replica.name}: endpoint removed (HAProxy drain)")
        time.sleep(self.timings.prestop)
        grace = int(self.timings.graceful_timeout + 5)
        sigterm_at = self.events.add("action", f"{replica.name}: SIGTERM (podman stop -t {grace})")
        figures["sigterm_at"] = round(sigterm_at, 3)
        podman("stop", "--time", str(grace), replica.container, timeout=grace + 60)
        stopped_at = self.clock.now()
        figures["stopped_after_s"] = round(stopped_at - sigterm_at, 2)
        exit_code = podman(
            "inspect", replica.container, "--format", "{{.State.ExitCode}}"
        ).stdout.strip()
        figures["exit_code"] = int(exit_code) if exit_code.lstrip("-").isdigit() else exit_code
        self.haproxy.del_server(replica.name)
        self.events.add("action", f"{replica.name}: exited {exit_code}, endpoint deleted")
        self.save_logs(replica)
        podman("rm", "--force", "--time", "0", replica.container, check=False)
        replica.removed = True
        return figures

    def retire_many(self, replicas: list[Replica]):
        results: list[dict] = []

        def one(replica: Replica) -> None:
            try:
                results.append(self.retire(replica))
            except Exception as exc:  # reported as a figure, judged by the scenario
                results.append({"replica": replica.name, "error": repr(exc)})

        threads = [threading.Thread(target=one, args=(r,)) for r in replicas]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        return sorted(results, key=lambda f: f["replica"])

    def kill(self, replica: Replica) -> None:
        podman("kill", "--signal", "KILL", replica.container)

    def host_pids(self, replica: Replica) -> list[int]:
        """Host PIDs of every process in the replica's container."""
        out = podman("top", replica.container, "hpid", check=False).stdout.split()
        pids = [int(p) for p in out if p.isdigit()]
        return pids or [replica.pid]

    def freeze(self, replica: Replica) -> list[int]:
        """SIGSTOP every process of the replica: it accepts connections, answers nothing."""
        pids = self.host_pids(replica)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        return pids

    def thaw(self, pids: list[int]) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    # --- logs and teardown -----------------------------------------------------------------
    def logs(self, replica: Replica) -> str:
        result = podman("logs", replica.container, check=False)
        return result.stdout + result.stderr

    def save_logs(self, replica: Replica) -> None:
        with contextlib.suppress(Exception):
            (self.out_dir / "logs" / f"{replica.name}.log").write_text(self.logs(replica))

    def teardown(self) -> None:
        """Stop everything this stack started, by name and PID; safe to call twice."""
        if self._torn_down:
            return
        self._torn_down = True
        for replica in list(self.replicas):
            if not replica.removed:
                self.thaw(self.host_pids(replica) if replica.pid else [])
                self.save_logs(replica)
        for name in self._containers:
            with contextlib.suppress(Exception):
                podman("rm", "--force", "--time", "0", name, check=False, timeout=60)
        for stop in (self.haproxy.stop, self.redis.destroy, self.pg.destroy):
            with contextlib.suppress(Exception):
                stop()
