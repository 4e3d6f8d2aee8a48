"""`migrate` under a PostgreSQL advisory lock, so many replicas may start at once."""

import time

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection

# An arbitrary constant that names "kubeblog schema migration" among advisory locks.
MIGRATION_LOCK_ID = 0x6B75_6265_626C_6F67 & 0x7FFF_FFFF_FFFF_FFFF


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
                call_command("migrate", interactive=False, verbosity=verbosity)
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_ID])
