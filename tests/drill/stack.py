"""The drill's stack on 127.0.0.1: PostgreSQL, Redis, replicas of the image, HAProxy, the task
workers (tests/drill/workers.py) and the SMTP relay they send mail through (harness/smtp.py).

Every replica is a podman container of the real image, started as the Deployment starts a pod:
the same environment, read-only root with a tmpfs /tmp, UID 10001, no capabilities. The host's
network namespace (`--network host`) lets it reach the throwaway PostgreSQL and Redis, which
listen on 127.0.0.1 only, so each replica gets its own ports (as tests/image does).
Containers are named `kubeblog-drill-<drill pid>-<replica>` and removed by those names.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.gunicorn import NO_OBJECT_STORE
from harness.paths import ROOT, project_version
from harness.pgcluster import PostgresCluster
from harness.podman import RESTRICTED, build_image, env_args, podman
from harness.servers import RedisServer, free_port
from harness.smtp import SmtpServer
from tests.drill import expand, kube
from tests.drill.clock import Clock, Events
from tests.drill.config import GUNICORN_THREADS, GUNICORN_WORKERS, WORKER_SETTINGS, Timings
from tests.drill.haproxy import HAProxy
from tests.drill.kubelet import Kubelet, http_status, pid_alive, start_together
from tests.drill.workers import WorkerTier

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
        # Release 2 carries a real expand migration (tests/drill/expand.py), which its
        # migrate init container applies while release 1 serves.
        migration = expand.write_migration(Path(context))
        (Path(context) / "Containerfile").write_text(
            f"FROM {old_id}\n"
            f'LABEL org.opencontainers.image.version="{new_version}"\n'
            f"ENV APP_VERSION={new_version}\n"
            f"COPY {migration.name} /app/blog/migrations/{migration.name}\n"
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
    retiring: bool = False  # being deleted: the kubelet leaves it alone
    removed: bool = False

    def readyz(self, timeout: float = 4.0) -> int | None:
        """The status of the Deployment's readiness probe, sent to the port it names."""
        probe = kube.web().readiness
        return http_status(self.port_named(probe.port), probe.path, timeout)

    def port_named(self, name: str) -> int:
        """The container port the manifests call `name`."""
        return {"http": self.port, "metrics": self.metrics_port}[name]


class Stack:
    """Start, change and stop the stack; every container and process it starts, it stops."""

    def __init__(self, out_dir: Path, clock: Clock, events: Events, timings: Timings) -> None:
        self.out_dir = out_dir
        self.clock = clock
        self.events = events
        self.timings = timings
        # Durable, replicated, failing over: three Patroni nodes behind HAProxy and PgBouncer.
        self.pg = PostgresCluster()
        # Redis requires a password, as in the deployments; a new one every run.
        self.redis = RedisServer(password=secrets.token_urlsafe(24))
        self.haproxy = HAProxy(out_dir)
        self.kubelet = Kubelet(self, self.haproxy, events, random.Random(13))
        self.replicas: list[Replica] = []
        # The relay every mail goes through; it keeps each message it accepted.
        self.smtp = SmtpServer()
        self.workers = WorkerTier(self, RUN_PREFIX, POD_FLAGS)
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
        self.smtp.start()
        self.events.add(
            "action",
            f"PostgreSQL: leader {self.pg.leader()}, sync standby {self.pg.sync_standby()}, "
            f"PgBouncer on :{self.pg.pgbouncer_port}; Redis on :{self.redis.port}; "
            f"SMTP relay on :{self.smtp.port}",
        )
        self.migrate(release)
        self.haproxy.start()
        self.events.add("action", f"HAProxy on :{self.haproxy.port}")
        replicas = self.start_replicas(release, self.timings.replicas)
        for replica in replicas:
            self.register(replica)
        self.workers.start_many(release, self.timings.workers)

    def base_env(self, release: Release) -> dict[str, str]:
        return {
            "DJANGO_SECRET_KEY": SECRET_KEY,
            # Through PgBouncer in transaction mode, as the Pooler in production.
            "DATABASE_URL": self.pg.url,
            "DATABASE_PGBOUNCER": "true",
            "REDIS_URL": self.redis.url,  # carries the password
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            # The drill's relay (harness/smtp.py), plain SMTP on loopback; each step of a
            # conversation may take EMAIL_TIMEOUT's default, as in production.
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.smtp.port),
            "EMAIL_USE_TLS": "false",
            # The load uploads no image; reading pages never calls the object store.
            **NO_OBJECT_STORE,
            **WORKER_SETTINGS,
            # The ConfigMap's, checked against the worker's grace period by the manifests' tests.
            "WORKER_SHUTDOWN_TIMEOUT": kube.config_env().get("WORKER_SHUTDOWN_TIMEOUT", "20"),
            "APP_VERSION": release.version,
            "THEME_COLOR": release.color,
            # Plain HTTP on loopback: TLS is the ingress's job.
            "SECURE_SSL_REDIRECT": "false",
            "SECURE_COOKIES": "false",
            "SECURE_HSTS_SECONDS": "0",
            "TRUSTED_PROXY_COUNT": "1",
            # Every comment comes from one address here; the limit is not under test.
            "COMMENT_RATE_LIMIT": "1000000",
            "GUNICORN_GRACEFUL_TIMEOUT": f"{kube.web().graceful_timeout:g}",
            "GUNICORN_WORKERS": str(GUNICORN_WORKERS),
            "GUNICORN_THREADS": str(GUNICORN_THREADS),
            "LOG_LEVEL": "INFO",
        }

    def init_env(self, release: Release) -> dict[str, str]:
        """The migrate init container's: straight to the primary, not through PgBouncer
        (migrate_locked holds a session-level advisory lock)."""
        return {
            **self.base_env(release),
            "DATABASE_URL": self.pg.direct_url,
            "DATABASE_PGBOUNCER": "false",
        }

    def migrate(self, release: Release) -> None:
        """migrate_locked, then the authors, in a one-off container (the init container)."""
        env = self.init_env(release)
        env["DRILL_AUTHORS"] = ",".join(f"{u}:{p}" for u, p in self.authors)
        setup = (
            "import os\n"
            "from django.contrib.auth import get_user_model\n"
            "User = get_user_model()\n"
            "for pair in os.environ['DRILL_AUTHORS'].split(','):\n"
            "    name, password = pair.split(':', 1)\n"
            "    user, _ = User.objects.get_or_create(username=name)\n"
            "    user.set_password(password)\n"
            # An address: the comments the load posts turn into moderation mail.
            "    user.email = name + '@example.com'\n"
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
        self.track_container(name)
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
        return start_together(lambda: self.start_replica(release), count, "replicas")

    def track_container(self, name: str) -> None:
        """A container this stack started: teardown removes it by name."""
        with self._lock:
            self._containers.append(name)

    def container_pid(self, replica: Replica) -> int:
        pid = podman("inspect", replica.container, "--format", "{{.State.Pid}}").stdout.strip()
        return int(pid or 0)

    def register(self, replica: Replica, timeout: float = 60.0) -> float:
        """The pod joins the Service: its endpoint exists, not ready; the kubelet probes it and
        the proxy puts it in rotation once ready. Returns the seconds until it was."""
        started = time.monotonic()
        self.haproxy.add_server(replica.name, replica.port)
        replica.registered = True
        self.kubelet.track(replica)
        if self.wait_up(replica, timeout) is None:
            raise RuntimeError(f"{replica.name} never came into rotation")
        return time.monotonic() - started

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
        """Delete a replica's pod as Kubernetes does; returns what happened, when.

        Two things start at once: the endpoint's removal, which reaches the proxy 1-5 s later
        (tests/drill/kubelet.Endpoints), and the preStop sleep of the Deployment, after which
        SIGTERM starts gunicorn's graceful stop (SIGKILL after the grace period). Nothing waits
        for the proxy: if preStop were shorter than the propagation, new requests would reach
        a replica that no longer accepts them.
        """
        replica.retiring = True
        self.kubelet.untrack(replica)
        figures: dict = {"replica": replica.name}
        deleted = self.events.add("action", f"{replica.name}: pod deleted")
        removal = self.kubelet.endpoints.set_ready(replica.name, False)
        web = kube.web()
        time.sleep(web.prestop)
        sigterm_at = self.events.add("action", f"{replica.name}: SIGTERM (after preStop)")
        figures["sigterm_at"] = round(sigterm_at, 3)
        figures["sigterm_after_deletion_s"] = round(sigterm_at - deleted, 2)
        self.stop_container(replica, web.grace_period - web.prestop)
        stopped_at = self.clock.now()
        figures["stopped_after_s"] = round(stopped_at - sigterm_at, 2)
        removal.join(10)
        exit_code = podman(
            "inspect", replica.container, "--format", "{{.State.ExitCode}}"
        ).stdout.strip()
        figures["exit_code"] = int(exit_code) if exit_code.lstrip("-").isdigit() else exit_code
        self.haproxy.del_server(replica.name)
        self.kubelet.endpoints.forget(replica.name)
        self.events.add("action", f"{replica.name}: exited {exit_code}, endpoint deleted")
        self.save_logs(replica)
        podman("rm", "--force", "--time", "0", replica.container, check=False)
        replica.removed = True
        return figures

    def retire_in_background(self, replica: Replica):
        """retire() in a thread of its own; returns a function that waits for its figures."""
        result: list[dict] = []

        def one() -> None:
            try:
                result.append(self.retire(replica))
            except Exception as exc:  # reported as a figure, judged by the scenario
                result.append({"replica": replica.name, "error": repr(exc)})

        thread = threading.Thread(target=one, name=f"retire-{replica.name}")
        thread.start()

        def wait() -> dict:
            thread.join(180)
            return result[0] if result else {"replica": replica.name, "error": "still retiring"}

        return wait

    def retire_many(self, replicas: list[Replica]):
        """Delete several pods at once, as a scale-in does; their figures, by name."""
        waits = [self.retire_in_background(replica) for replica in replicas]
        return sorted((wait() for wait in waits), key=lambda f: f["replica"])

    def stop_container(self, replica: Replica, grace: float) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds, as the kubelet stops a container."""
        seconds = max(1, int(grace))
        podman("stop", "--time", str(seconds), replica.container, timeout=seconds + 60)

    def restart_container(self, replica: Replica) -> None:
        """The kubelet starts the pod's container again: same name, port and environment."""
        podman("start", replica.container, check=False)
        replica.pid = self.container_pid(replica)
        replica.restarts += 1
        replica.restarted_at.append(self.clock.now())
        self.events.add("action", f"kubelet: {replica.name} restarted ({replica.restarts})")

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

    def time_in_app(self) -> dict[str, float]:
        """Seconds each request spent in a replica (gunicorn's access log), by request id, from
        every replica that ever ran: those still running, and the saved logs of the others."""
        texts = [self.logs(r) for r in self.replicas if not r.removed]
        texts += [p.read_text(errors="replace") for p in (self.out_dir / "logs").glob("*.log")]
        durations: dict[str, float] = {}
        for text in texts:
            for line in text.splitlines():
                if '"gunicorn.access"' not in line:
                    continue
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    entry = json.loads(line)
                    durations[entry["request_id"]] = entry["duration_ms"] / 1000
        return durations

    def save_logs(self, replica: Replica) -> None:
        with contextlib.suppress(Exception):
            (self.out_dir / "logs" / f"{replica.name}.log").write_text(self.logs(replica))

    def teardown(self) -> None:
        """Stop everything this stack started, by name and PID; safe to call twice."""
        if self._torn_down:
            return
        self._torn_down = True
        self.kubelet.stop()  # first: no restarts of what is being removed
        with contextlib.suppress(Exception):
            self.workers.stop()
        for replica in list(self.replicas):
            if not replica.removed:
                self.thaw(self.host_pids(replica) if replica.pid else [])
                self.save_logs(replica)
        for name in self._containers:
            with contextlib.suppress(Exception):
                podman("rm", "--force", "--time", "0", name, check=False, timeout=60)
        with contextlib.suppress(Exception):
            self.pg.save_logs(self.out_dir / "logs")
        for stop in (self.haproxy.stop, self.smtp.stop, self.redis.destroy, self.pg.destroy):
            with contextlib.suppress(Exception):
                stop()
