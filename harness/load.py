"""Load for the tests: client threads sending one request after another, each one recorded.

Load is made four ways in this repository, each for a job the others do badly:
- here, a few clients in threads, closed loop (a client's next request leaves when its last
  one is answered), for a test that needs requests flowing while something happens to the
  server (tests/image/test_shutdown.py: SIGTERM under load);
- bench/load.py: wrk for throughput and latency at a fixed number of connections, and locust
  for the reader/author mix, each in its own process so that Python does not set the ceiling;
- tests/drill/load.py: an open-loop aiohttp client at a fixed rate (a slow answer never slows
  the sending down), recording which replica and version answered each request, so that the
  drill can judge every one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RequestLoop:
    """`clients` threads each calling `request()` back to back, `interval` seconds apart; each
    call is recorded as (when it was sent, what it returned or the repr of its OSError).

    Bounded whatever happens: the clients stop at `stop_at` (anyone may move it), `seconds`
    after the start, after `limit` requests each, or once `until(outcome)` is true.
    """

    def __init__(
        self,
        request: Callable[[], object],
        *,
        clients: int = 1,
        interval: float = 0.0,
        seconds: float = 60.0,
        limit: int = 3000,
        until: Callable[[object], bool] | None = None,
    ) -> None:
        self.request = request
        self.interval = interval
        self.seconds = seconds
        self.limit = limit
        self.until = until
        self.stop_at = float("inf")
        self.outcomes: list[tuple[float, object]] = []
        self._deadline = float("inf")
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def start(self) -> RequestLoop:
        self._deadline = time.monotonic() + self.seconds
        for thread in self._threads:
            thread.start()
        return self

    def sending(self) -> bool:
        now = time.monotonic()
        return now < self.stop_at and now < self._deadline

    def _client(self) -> None:
        for _ in range(self.limit):
            if not self.sending():
                return
            sent = time.monotonic()
            try:
                outcome = self.request()
            except OSError as exc:  # refused, reset, timed out: recorded, judged by the test
                outcome = repr(exc)
            with self._lock:
                self.outcomes.append((sent, outcome))
            if self.until is not None and self.until(outcome):
                self.stop_at = 0
                return
            if self.interval:
                time.sleep(self.interval)

    def wait_for(self, count: int, timeout: float = 20.0) -> None:
        """Wait until `count` requests have been answered, at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while len(self.outcomes) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        """Send nothing more, and wait for the requests in flight."""
        self.stop_at = 0
        for thread in self._threads:
            thread.join(30)

    def __enter__(self) -> RequestLoop:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
