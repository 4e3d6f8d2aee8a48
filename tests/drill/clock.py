"""One clock for the whole drill, and the log of what the drill did when."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


class Clock:
    """Seconds since the drill began (monotonic), shared by the load and the scenarios."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.started_wall = time.time()

    def now(self) -> float:
        return time.monotonic() - self.started


@dataclass(frozen=True)
class Event:
    t: float
    kind: str  # "fault", "heal", "action" or "scenario"
    label: str


class Events:
    """What the drill did, when: faults, heals and actions, for the report and the timeline."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.items: list[Event] = []
        self._lock = threading.Lock()

    def add(self, kind: str, label: str) -> float:
        t = self.clock.now()
        with self._lock:
            self.items.append(Event(t, kind, label))
        print(f"[drill {t:7.2f}s] {kind}: {label}", flush=True)
        return t

    def between(self, start: float, end: float) -> list[Event]:
        with self._lock:
            return [e for e in self.items if start <= e.t <= end]
