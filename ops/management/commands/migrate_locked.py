"""`migrate` under a PostgreSQL advisory lock, so many replicas may start at once."""

import time

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import OperationalError, connection

from config.settings.base import session_timeouts

# An arbitrary constant that names "kubeblog schema migration" among advisory locks.
MIGRATION_LOCK_ID = 0x6B75_6265_626C_6F67 & 0x7FFF_FFFF_FFFF_FFFF
# Migrations get longer limits than the app's requests: a statement may run for minutes (a
# backfill batch, an index built concurrently), but waiting for a lock the serving release
# holds is bounded and retried, so a migration never queues every request behind its lock.
MIGRATION_STATEMENT_TIMEOUT = "30min"
MIGRATION_LOCK_TIMEOUT = "5s"
LOCK_RETRIES = 8
LOCK_NOT_AVAILABLE = "55P03"


class Command(BaseCommand):
    help = "Apply migrations while holding a PostgreSQL advisory lock (no lock on SQLite)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--lock-timeout",
            type=float,
            default=300.0,
            help="Seconds to wait for another replica's migration to finish.",
        )

    def handle(self, *args, lock_timeout: float, verbosity: int, **options):
        if connection.vendor != "postgresql":
            call_command("migrate", interactive=False, verbosity=verbosity)
            return
        started = time.monotonic()
        with connection.cursor() as cursor:
            # Session-level lock: held across migrate's own transactions, released below
            # or, if this process dies, by PostgreSQL when the connection closes.
            while True:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATION_LOCK_ID])
                if cursor.fetchone()[0]:
                    break
                if time.monotonic() - started > lock_timeout:
                    self.stderr.write("migrate_locked: gave up waiting for the migration lock")
                    raise SystemExit(1)
                time.sleep(0.5)
            waited = time.monotonic() - started
            self.stdout.write(f"migrate_locked: lock held after {waited:.1f}s")
            try:
                cursor.execute(f"SET statement_timeout = '{MIGRATION_STATEMENT_TIMEOUT}'")
                cursor.execute(f"SET lock_timeout = '{MIGRATION_LOCK_TIMEOUT}'")
                cursor.execute("SET idle_in_transaction_session_timeout = 0")
                self._migrate(verbosity)
                self._set_role_timeouts(cursor)
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_ID])

    def _migrate(self, verbosity: int) -> None:
        """migrate; a migration that timed out waiting for a lock is retried with back-off
        (each migration is atomic or written to be re-run, so it starts again cleanly)."""
        for attempt in range(1, LOCK_RETRIES + 1):
            try:
                call_command("migrate", interactive=False, verbosity=verbosity)
                return
            except OperationalError as exc:
                if _sqlstate(exc) != LOCK_NOT_AVAILABLE or attempt == LOCK_RETRIES:
                    raise
                pause = min(2**attempt, 30)
                self.stderr.write(
                    f"migrate_locked: a lock was busy for {MIGRATION_LOCK_TIMEOUT} "
                    f"(attempt {attempt}); again in {pause}s"
                )
                time.sleep(pause)

    def _set_role_timeouts(self, cursor) -> None:
        # Behind PgBouncer in transaction mode a connection cannot carry startup options,
        # so the app's own limits are the role's defaults, for every new session.
        for name, value in session_timeouts().items():
            cursor.execute(f"ALTER ROLE CURRENT_USER SET {name} = {int(value)}")
        self.stdout.write("migrate_locked: the role's statement, lock and idle timeouts set")


def _sqlstate(exc: OperationalError) -> str | None:
    return getattr(exc.__cause__, "sqlstate", None)
