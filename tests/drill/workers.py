"""The drill's worker tier: `python manage.py worker` in containers, kept running as the worker
Deployment's kubelet keeps its pods running.

A worker container is started as a replica is (tests/drill/stack.py): the same image, the same
environment (PgBouncer's DATABASE_URL, the relay of harness/smtp.py), the same restricted
flags, with a METRICS_PORT of its own for its probes and metrics. Its hostname is its pod's
name, as in a pod, so the worker ids it writes into the queue begin with that name.

The kubelet's part, no kinder than the real one: a container that died (SIGKILL, exit 1 after
a task's time limit) is restarted after the kubelet's back-off; where the worker Deployment has
a startup and a liveness probe (tests/drill/kube.worker), they are sent with their period,
timeout and threshold, and a failure stops the container (SIGTERM, SIGKILL after the grace
period) and restarts it.
A deleted pod gets SIGTERM at once (a worker has no preStop wait and no endpoint) and SIGKILL
after the grace period.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field

from harness.podman import env_args, podman
from harness.servers import free_port
from tests.drill import kube
from tests.drill.kubelet import http_status, pid_alive, start_together

WATCH_EVERY = 0.2  # seconds between looks at whether a container still runs


@dataclass
class WorkerPod:
    name: str  # the pod's name and hostname: worker ids begin with it
    container: str
    metrics_port: int
    release: object  # tests.drill.stack.Release
    started_at: float
    pid: int = 0
    restarts: int = 0
    restarted_at: list[float] = field(default_factory=list)
    deleted: bool = False  # being deleted: the kubelet leaves it alone

    def probe(self, path: str, timeout: float = 3.0) -> int | None:
        return http_status(self.metrics_port, path, timeout)


class WorkerTier:
    """Start, supervise, kill and delete the worker pods; the stack removes their containers."""

    def __init__(self, stack, prefix: str, flags: list[str]) -> None:
        self.stack = stack
        self.prefix = prefix  # container names: <prefix>-worker-<n>
        self.flags = flags  # podman run's, the same as a replica's
        self.pods: list[WorkerPod] = []
        self._index = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def running(self) -> list[WorkerPod]:
        with self._lock:
            return [p for p in self.pods if not p.deleted]

    def start_many(self, release, count: int) -> list[WorkerPod]:
        """Start `count` worker pods at once, as the Deployment does; each once it is ready."""
        return start_together(lambda: self.start(release), count, "workers")

    def start(self, release, ready_timeout: float = 90.0) -> WorkerPod:
        """podman run one worker pod; returns once its /readyz answers 200."""
        stack = self.stack
        with self._lock:
            self._index += 1
            name = f"worker-{self._index}"
        container = f"{self.prefix}-{name}"
        stack.track_container(container)
        pod = WorkerPod(name, container, free_port(), release, stack.clock.now())
        env = {
            **stack.base_env(release),
            "POD_NAME": name,
            "METRICS_PORT": str(pod.metrics_port),
        }
        podman(
            "run", "--detach", "--name", container, "--hostname", name, *self.flags,
            *env_args(env), release.image, "python", "manage.py", "worker",
        )  # fmt: skip
        pod.pid = self._pid(pod)
        with self._lock:
            self.pods.append(pod)
        if not self._wait_ready(pod, ready_timeout):
            raise RuntimeError(f"{name} never became ready:\n{self.logs(pod)[-3000:]}")
        stack.events.add(
            "action",
            f"{name} ({release.version}) ready in {stack.clock.now() - pod.started_at:.1f}s",
        )
        threading.Thread(
            target=self._supervise, args=(pod,), name=f"kubelet-{name}", daemon=True
        ).start()
        return pod

    def _wait_ready(self, pod: WorkerPod, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pod.probe("/readyz", timeout=2) == 200:
                return True
            if not pid_alive(pod.pid):
                return False
            time.sleep(0.1)
        return False

    def _pid(self, pod: WorkerPod) -> int:
        pid = podman("inspect", pod.container, "--format", "{{.State.Pid}}").stdout.strip()
        return int(pid or 0)

    # --- the kubelet ------------------------------------------------------------------------
    def _supervise(self, pod: WorkerPod) -> None:
        spec = kube.worker()
        deadline = time.monotonic() + 7200  # bounded: two hours at most
        next_live, live_bad = time.monotonic(), 0
        started = True  # start() waited until it was ready
        while not self._stop.is_set() and not pod.deleted and time.monotonic() < deadline:
            if not pid_alive(pod.pid):
                self._restart(pod, "died")
                next_live, live_bad, started = time.monotonic(), 0, False
                continue
            if not started and spec.startup is not None:
                # The startup probe until it passes; no liveness probe before (as the kubelet).
                startup = spec.startup
                status = pod.probe(startup.path, startup.timeout)
                started = status is not None and 200 <= status < 400
                live_bad = 0 if started else live_bad + 1
                if not started and live_bad >= startup.failure_threshold:
                    self.stop_container(pod, spec.grace_period)
                    self._restart(pod, "startup probe failed")
                    live_bad = 0
                elif not started:
                    self._stop.wait(startup.period)
                next_live = time.monotonic()
                continue
            started = True
            probe = spec.liveness
            if probe is not None and time.monotonic() >= next_live:
                next_live = time.monotonic() + probe.period
                status = pod.probe(probe.path, probe.timeout)
                live_bad = 0 if status is not None and 200 <= status < 400 else live_bad + 1
                if live_bad >= probe.failure_threshold:
                    self.stop_container(pod, spec.grace_period)
                    self._restart(pod, "liveness probe failed")
                    next_live, live_bad = time.monotonic(), 0
                    continue
            self._stop.wait(WATCH_EVERY)

    def _restart(self, pod: WorkerPod, why: str) -> None:
        if self._stop.is_set() or pod.deleted:
            return
        delay = kube.restart_delay(pod.restarts)
        self.stack.events.add("action", f"kubelet: {pod.name} {why}; restarting in {delay:g}s")
        if self._stop.wait(delay) or pod.deleted:
            return
        podman("start", pod.container, check=False)
        pod.pid = self._pid(pod)
        pod.restarts += 1
        pod.restarted_at.append(self.stack.clock.now())
        self.stack.events.add("action", f"kubelet: {pod.name} restarted ({pod.restarts})")

    # --- faults and deletion ----------------------------------------------------------------
    def kill(self, pod: WorkerPod) -> None:
        """SIGKILL: the worker dies wherever it is, as on a lost node or out of memory."""
        podman("kill", "--signal", "KILL", pod.container)

    def stop_container(self, pod: WorkerPod, grace: float) -> None:
        seconds = max(1, int(grace))
        podman("stop", "--time", str(seconds), pod.container, timeout=seconds + 60)

    def delete(self, pod: WorkerPod) -> dict:
        """Delete a worker pod: SIGTERM now, SIGKILL after the grace period; how it ended."""
        pod.deleted = True
        grace = kube.worker().grace_period
        sigterm_at = self.stack.events.add("action", f"{pod.name}: pod deleted, SIGTERM")
        self.stop_container(pod, grace)
        stopped_at = self.stack.clock.now()
        code = podman("inspect", pod.container, "--format", "{{.State.ExitCode}}").stdout.strip()
        exit_code = int(code) if code.lstrip("-").isdigit() else code
        self.stack.events.add("action", f"{pod.name}: exited {exit_code}")
        self.save_logs(pod)
        podman("rm", "--force", "--time", "0", pod.container, check=False)
        return {
            "worker": pod.name,
            "grace_period_s": grace,
            "sigterm_at": round(sigterm_at, 3),
            "stopped_after_s": round(stopped_at - sigterm_at, 2),
            "exit_code": exit_code,
        }

    def delete_in_background(self, pod: WorkerPod):
        """delete() in a thread; returns a function that waits for its figures."""
        result: list[dict] = []

        def one() -> None:
            try:
                result.append(self.delete(pod))
            except Exception as exc:  # a figure, judged by the scenario
                result.append({"worker": pod.name, "error": repr(exc)})

        thread = threading.Thread(target=one, name=f"delete-{pod.name}")
        thread.start()

        def wait() -> dict:
            thread.join(kube.worker().grace_period + 90)
            return result[0] if result else {"worker": pod.name, "error": "still stopping"}

        return wait

    # --- logs and teardown ------------------------------------------------------------------
    def logs(self, pod: WorkerPod) -> str:
        result = podman("logs", pod.container, check=False)
        return result.stdout + result.stderr

    def save_logs(self, pod: WorkerPod) -> None:
        # Logs are evidence, never a reason for teardown to fail.
        with contextlib.suppress(Exception):
            (self.stack.out_dir / "logs" / f"{pod.name}.log").write_text(self.logs(pod))

    def stop(self) -> None:
        """No more restarts; keep every running worker's logs (the stack removes containers)."""
        self._stop.set()
        for pod in self.running():
            self.save_logs(pod)
