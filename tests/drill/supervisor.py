"""The kubelet's restart loop, and nothing more: a replica whose container died is started
again, with the same name, port and environment, unless the drill stopped it on purpose."""

from __future__ import annotations

import threading

from tests.drill.clock import Events
from tests.drill.stack import Stack, pid_alive, podman

CHECK_EVERY = 0.2  # seconds; watching /proc costs nothing, unlike asking podman
MAX_RESTARTS = 5  # per replica: a crash loop is reported, not hidden


class Supervisor:
    def __init__(self, stack: Stack, events: Events) -> None:
        self.stack = stack
        self.events = events
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        for _ in range(int(7200 / CHECK_EVERY)):  # bounded: two hours at most
            if self._stop.wait(CHECK_EVERY):
                return
            for replica in self.stack.serving():
                if replica.pid and not pid_alive(replica.pid) and not replica.retiring:
                    self._restart(replica)

    def _restart(self, replica) -> None:
        state = podman(
            "inspect", replica.container, "--format", "{{.State.Status}} {{.State.ExitCode}}",
            check=False,
        ).stdout.split()  # fmt: skip
        if not state or state[0] not in ("exited", "stopped") or replica.retiring:
            return
        if replica.restarts >= MAX_RESTARTS:
            self.events.add("action", f"supervisor: {replica.name} keeps dying, left down")
            replica.pid = 0
            return
        self.events.add("action", f"supervisor: {replica.name} died (exit {state[1]}), restarting")
        podman("start", replica.container, check=False)
        replica.pid = self.stack.container_pid(replica)
        replica.restarts += 1
        replica.restarted_at.append(self.stack.clock.now())
