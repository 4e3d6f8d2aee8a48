"""What this process has seen of each shared dependency, and whether to try it now.

Readiness never follows a dependency every replica shares (a database outage would take every
replica out of the Service at once, and the site would answer nothing, not even its cached
pages). Nothing here is probed: the code that uses PostgreSQL and Redis reports what it saw
(`saw`), and each dependency has a circuit breaker built from those reports:

- the cache (Redis): after 3 failed commands in a row every cache call skips Redis for 5 s,
  then one call tries it again (ops.cache);
- the database: after a failure, a page that the page cache holds is served from it at once
  instead of waiting on PostgreSQL again (ops.pagecache), and a thread of this process checks
  the database every 2 s, until it answers. Pages that need the database still ask it, and
  answer 503 when it fails; their success closes the circuit too.

/readyz shows each state to people; metrics count the changes; each change is logged once.
"""

from __future__ import annotations

import logging
import threading
import time

logger = logging.getLogger(__name__)


class Breaker:
    """Closed: calls go through. Open: `allow()` is False. After `open_seconds`, one call is
    allowed (the others still are not): its success closes the circuit, its failure opens
    it again."""

    def __init__(self, name: str, failures: int, open_seconds: float) -> None:
        self.name = name
        self.failures = failures
        self.open_seconds = open_seconds
        self._lock = threading.Lock()
        self._failed = 0
        self._open_until: float | None = None
        self._seen: bool | None = None  # the last report: worked, failed, or none yet
        self._failing_since: float | None = None  # the first failure since the last success

    def reset(self) -> None:
        """Forget everything, as a new process starts."""
        with self._lock:
            self._failed, self._open_until, self._seen = 0, None, None
            self._failing_since = None

    def failing_for(self) -> float | None:
        """Seconds since it began failing (its first failure since it last worked), or None
        while it works."""
        since = self._failing_since
        return None if since is None else time.monotonic() - since

    @property
    def state(self) -> str:
        """ "ok", "unavailable" (its last use failed) or "unknown" (not used yet)."""
        return {None: "unknown", True: "ok", False: "unavailable"}[self._seen]

    @property
    def is_open(self) -> bool:
        return self._open_until is not None

    def allow(self) -> bool:
        if self._open_until is None:
            return True  # the usual case, without the lock
        with self._lock:
            now = time.monotonic()
            if self._open_until is None:
                return True
            if now < self._open_until:
                return False
            self._open_until = now + self.open_seconds  # this call is the one trial
            return True

    def succeeded(self) -> None:
        if self._seen is True and self._failed == 0:
            return  # the usual case, without the lock
        with self._lock:
            was_open = self._open_until is not None
            self._failed, self._open_until, self._seen = 0, None, True
            self._failing_since = None
        if was_open:
            _changed(self.name, "closed")
            logger.warning("%s works again: circuit closed", self.name)

    def failed(self) -> None:
        with self._lock:
            self._failed += 1
            self._seen = False
            if self._failing_since is None:
                self._failing_since = time.monotonic()
            opens = self._failed >= self.failures
            if opens:
                self._open_until = time.monotonic() + self.open_seconds
        if opens:
            _changed(self.name, "open")
            logger.warning(
                "%s unavailable: circuit open for %ss after %s failures",
                self.name,
                self.open_seconds,
                self._failed,
            )


BREAKERS = {
    "database": Breaker("database", failures=1, open_seconds=2.0),
    "cache": Breaker("cache", failures=3, open_seconds=5.0),
}


def saw(dependency: str, ok: bool) -> None:
    """Report that `dependency` just worked (ok) or failed."""
    breaker = BREAKERS[dependency]
    if ok:
        breaker.succeeded()
    else:
        breaker.failed()


def is_database_outage(exc: BaseException | None) -> bool:
    """Whether a database error means "the database is not there for you now", which a
    client may retry (503), rather than a bug (500): a lost or unreachable server, or a write
    that reached a server still in recovery. The last happens for an instant in a failover,
    when the proxy in front already sends connections to the standby being promoted, before
    it takes writes (SQLSTATE 25006, read_only_sql_transaction; the drill's scenario 8 met it)."""
    from django.db import InterfaceError, InternalError, OperationalError

    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, InternalError) and getattr(exc.__cause__, "sqlstate", "") == "25006"


def worth_trying(dependency: str) -> bool:
    """False while the dependency's circuit is open: skip it, or use what is at hand."""
    return BREAKERS[dependency].allow()


def database_believed_down() -> bool:
    """True while the database's circuit is open; meanwhile a background check (one per
    process at a time, at most every open_seconds) finds out when it is back, so that no
    reader has to wait on it."""
    breaker = BREAKERS["database"]
    if not breaker.is_open:
        return False
    if _checking.acquire(blocking=False):
        threading.Thread(target=_check_database, args=(breaker,), daemon=True).start()
    return True


_checking = threading.Lock()


def _check_database(breaker: Breaker) -> None:
    from django.db import DatabaseError, connection

    from ops.deadlines import connected

    try:
        time.sleep(breaker.open_seconds)
        try:
            with connected(connection, breaker.open_seconds), connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            saw("database", True)
        except DatabaseError:
            saw("database", False)
        finally:
            connection.close()
    finally:
        _checking.release()


def report() -> dict[str, str]:
    """Each dependency as last seen, for /readyz's body."""
    return {name: breaker.state for name, breaker in BREAKERS.items()}


def _changed(name: str, state: str) -> None:
    from ops import metrics  # not at import: the settings import this module's users

    metrics.CIRCUIT.labels(dependency=name, state=state).inc()
