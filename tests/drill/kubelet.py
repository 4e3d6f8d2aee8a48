"""The kubelet and the endpoints controller, as strict as the real ones, and no kinder.

For every replica, as the kubelet does for a pod (numbers from the Deployment, tests/drill/kube):
- the startup probe, then the readiness probe every `periodSeconds` with its timeout, ready
  after `successThreshold` good answers in a row, not ready after `failureThreshold` bad ones;
- the liveness probe on the metrics port: after `failureThreshold` failures the container is
  stopped (SIGTERM, SIGKILL after the grace period) and restarted;
- a container that died is not ready at once and is restarted after the kubelet's back-off.

Every change of readiness reaches the proxy (HAProxy, which does no health checking of its own:
kube-proxy does none) after a random 1-5 s, as an EndpointSlice update reaches kube-proxy and
the ingress controller; the proxy always ends up with the latest state.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

from harness.http import http_get
from tests.drill import kube
from tests.drill.clock import Events

WATCH_EVERY = 0.2  # seconds between looks at whether a container is still running


def http_status(port: int, path: str, timeout: float = 4.0) -> int | None:
    """Status of GET http://127.0.0.1:port/path, None when nothing answers in time."""
    try:
        return http_get(port, path, {"Host": "localhost"}, timeout)[0]
    except OSError:
        return None


def probe_ok(replica, probe: kube.Probe) -> bool:
    """The probe as the kubelet sends it, to the container port it names."""
    status = http_status(replica.port_named(probe.port), probe.path, probe.timeout)
    return status is not None and 200 <= status < 400  # what the kubelet counts as success


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (a stopped one is alive)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def start_together(start, count: int, what: str) -> list:
    """`start()` `count` times at once, each in a thread, as a Deployment scales up; the pods
    it returned, by number (their names end in `-<n>`). Raises if any did not start."""
    results: list = []

    def one() -> None:
        try:
            results.append(start())
        except BaseException as exc:  # reported below, in the caller's thread
            results.append(exc)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors or len(results) != count:
        raise RuntimeError(f"starting {count} {what} failed: {errors[:1]}")
    return sorted(results, key=lambda pod: int(pod.name.split("-")[1]))


class Endpoints:
    """The Service's endpoints as the proxy sees them: each change after a random delay."""

    def __init__(self, haproxy, events: Events, rng: random.Random) -> None:
        self.haproxy = haproxy
        self.events = events
        self.rng = rng
        self._wanted: dict[str, bool] = {}
        self._applied: dict[str, bool] = {}
        self._lock = threading.Lock()

    def set_ready(self, name: str, ready: bool) -> threading.Thread:
        """The EndpointSlice now says `ready`; the proxy follows 1-5 s later."""
        with self._lock:
            self._wanted[name] = ready
        delay = self.rng.uniform(*kube.PROPAGATION_DELAY)
        thread = threading.Thread(target=self._apply, args=(name, delay), daemon=True)
        thread.start()
        return thread

    def _apply(self, name: str, delay: float) -> None:
        time.sleep(delay)
        with self._lock:
            ready = self._wanted.get(name)
            if ready is None or self._applied.get(name) == ready:
                return
            self._applied[name] = ready
            try:
                self.haproxy.set_state(name, "ready" if ready else "maint")
            except RuntimeError:
                return  # the server is gone already
        word = "in rotation" if ready else "out of rotation"
        self.events.add("action", f"proxy: {name} {word} ({delay:.1f}s after the change)")

    def forget(self, name: str) -> None:
        with self._lock:
            self._wanted.pop(name, None)
            self._applied.pop(name, None)

    def applied(self, name: str) -> bool | None:
        with self._lock:
            return self._applied.get(name)


class Pod:
    """One replica's probes and restarts, in a thread of its own, until it is retired."""

    def __init__(self, kubelet: Kubelet, replica) -> None:
        self.kubelet = kubelet
        self.replica = replica
        self.ready = False
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=self._run, name=f"kubelet-{replica.name}", daemon=True
        )

    def _run(self) -> None:
        web = kube.web()
        deadline = time.monotonic() + 7200  # bounded: two hours at most
        while not self.stop.is_set() and time.monotonic() < deadline:
            self._container(web)

    def _container(self, web: kube.Web) -> None:
        """One run of the container: startup probe, then readiness and liveness, until it dies."""
        replica = self.replica
        started = False
        next_ready = next_live = time.monotonic()
        ready_ok = ready_bad = live_bad = 0
        while not self.stop.is_set():
            now = time.monotonic()
            if not pid_alive(replica.pid):
                self._set_ready(False)
                self._restart("died")
                return
            if not started:
                started = probe_ok(replica, web.startup)
                if not started:
                    self.stop.wait(web.startup.period)
                    continue
                next_ready = next_live = time.monotonic()
            if now >= next_ready:
                next_ready = now + web.readiness.period
                if probe_ok(replica, web.readiness):
                    ready_ok, ready_bad = ready_ok + 1, 0
                    if ready_ok >= web.readiness.success_threshold:
                        self._set_ready(True)
                else:
                    ready_ok, ready_bad = 0, ready_bad + 1
                    if ready_bad >= web.readiness.failure_threshold:
                        self._set_ready(False)
            if now >= next_live:
                next_live = now + web.liveness.period
                if probe_ok(replica, web.liveness):
                    live_bad = 0
                else:
                    live_bad += 1
                    if live_bad >= web.liveness.failure_threshold:
                        self._set_ready(False)
                        self.kubelet.stack.stop_container(replica, web.grace_period)
                        self._restart("liveness probe failed")
                        return
            self.stop.wait(WATCH_EVERY)

    def _set_ready(self, ready: bool) -> None:
        if ready != self.ready and not self.stop.is_set():
            self.ready = ready
            self.kubelet.endpoints.set_ready(self.replica.name, ready)

    def _restart(self, why: str) -> None:
        replica = self.replica
        if self.stop.is_set() or replica.retiring:
            return
        delay = kube.restart_delay(replica.restarts)
        self.kubelet.events.add(
            "action", f"kubelet: {replica.name} {why}; restarting in {delay:g}s"
        )
        if self.stop.wait(delay) or replica.retiring:
            return
        self.kubelet.stack.restart_container(replica)


class Kubelet:
    def __init__(self, stack, haproxy, events: Events, rng: random.Random) -> None:
        self.stack = stack
        self.events = events
        self.endpoints = Endpoints(haproxy, events, rng)
        self._pods: dict[str, Pod] = {}
        self._lock = threading.Lock()

    def track(self, replica) -> None:
        pod = Pod(self, replica)
        with self._lock:
            self._pods[replica.name] = pod
        pod.thread.start()

    def untrack(self, replica) -> None:
        """The pod is being deleted: no more probes or restarts; out of the endpoints."""
        with self._lock:
            pod = self._pods.pop(replica.name, None)
        if pod is not None:
            pod.stop.set()

    def stop(self) -> None:
        with self._lock:
            pods = list(self._pods.values())
            self._pods.clear()
        for pod in pods:
            pod.stop.set()
        for pod in pods:
            pod.thread.join(10)
