import re
import subprocess
import sys
import time

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from harness.gunicorn import production_env
from harness.paths import ROOT
from harness.servers import PostgresServer
from ops.management.commands.migrate_locked import MIGRATION_LOCK_ID


def _migrate_process(url: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "migrate_locked"],
        cwd=ROOT,
        env=production_env(url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for_lock_attempts(conn, count: int, timeout: float = 30.0) -> int:
    """Poll until another session has tried the migration lock `count` times (each try of
    pg_try_advisory_lock shows as a new query_start of its backend); return the tries seen."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < count:
        assert time.monotonic() < deadline, f"{len(seen)} lock attempts after {timeout}s"
        rows = conn.execute(
            "SELECT query_start::text FROM pg_stat_activity"
            " WHERE query LIKE 'SELECT pg_try_advisory_lock(%%' AND pid <> pg_backend_pid()"
        ).fetchall()
        seen.update(row[0] for row in rows)
        time.sleep(0.05)
    return len(seen)


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        return {row[0] for row in rows}


@pytest.mark.slow
def test_migrate_waits_for_the_advisory_lock_then_applies_everything():
    with PostgresServer() as pg:
        holder = psycopg.connect(pg.url, autocommit=True)
        holder.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_ID])
        process = _migrate_process(pg.url)
        tries = _wait_for_lock_attempts(holder, 3)
        assert process.poll() is None, "migrate must wait while another replica holds the lock"
        assert "blog_post" not in _tables(pg.url)
        holder.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_ID])
        holder.close()
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 0, output
        assert "blog_post" in _tables(pg.url)
        waited = float(re.search(r"lock held after ([\d.]+)s", output).group(1))
        assert waited >= tries * 0.5 - 0.5, output  # it retries every 0.5 s


@pytest.mark.slow
def test_two_replicas_migrating_at_once_both_succeed():
    with PostgresServer() as pg:
        first, second = _migrate_process(pg.url), _migrate_process(pg.url)
        outputs = [p.communicate(timeout=120)[0] for p in (first, second)]
        assert [first.returncode, second.returncode] == [0, 0], outputs
        with psycopg.connect(pg.url) as conn:
            applied = conn.execute(
                "SELECT app, name, count(*) FROM django_migrations GROUP BY app, name "
                "HAVING count(*) > 1"
            ).fetchall()
        assert applied == [], "no migration was applied twice"
        assert {"blog_post", "blog_comment", "auth_user"} <= _tables(pg.url)


@pytest.mark.slow
def test_a_migration_that_waits_too_long_for_a_lock_gives_way_and_is_retried():
    # Migration 0003 alters blog_post; the serving release holds a lock on it meanwhile.
    with PostgresServer() as pg:
        env = production_env(pg.url)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "blog", "0002", "-v0"],
            cwd=ROOT, env=env, check=True, capture_output=True,
        )  # fmt: skip
        holder = psycopg.connect(pg.url)
        holder.execute("LOCK TABLE blog_post IN ACCESS SHARE MODE")  # a transaction reading
        process = _migrate_process(pg.url)
        busy = []
        for line in process.stdout:  # bounded: the process ends after its retries
            busy.append(line)
            if "a lock was busy" in line:
                break
        holder.rollback()
        holder.close()
        output = "".join(busy) + process.communicate(timeout=120)[0]
        assert process.returncode == 0, output
        assert "a lock was busy for 5s (attempt 1); again in 2s" in output
        with psycopg.connect(pg.url) as conn:
            applied = conn.execute(
                "SELECT name FROM django_migrations WHERE app = 'blog' ORDER BY name"
            ).fetchall()
        assert ("0003_post_search_document",) in applied


@pytest.mark.slow
def test_migrate_locked_sets_the_apps_timeouts_on_its_role():
    with PostgresServer() as pg:
        process = _migrate_process(pg.url)
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 0, output
        with psycopg.connect(pg.url) as conn:
            (config,) = conn.execute(
                "SELECT rolconfig FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
            # A new session of the role, as PgBouncer would open, starts with them.
            timeout = conn.execute("SHOW statement_timeout").fetchone()[0]
    assert sorted(config) == [
        "idle_in_transaction_session_timeout=10000",
        "lock_timeout=2000",
        "statement_timeout=3000",
    ]
    assert timeout == "3s"


@pytest.mark.django_db
def test_ensure_superuser_creates_then_updates_idempotently(monkeypatch, django_user_model):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "root-admin")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "first-password-123")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "admin@example.invalid")
    call_command("ensure_superuser")
    call_command("ensure_superuser")
    user = django_user_model.objects.get(username="root-admin")
    assert user.is_superuser and user.is_staff
    assert user.check_password("first-password-123")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "rotated-password-456")
    call_command("ensure_superuser")
    user.refresh_from_db()
    assert user.check_password("rotated-password-456")
    assert django_user_model.objects.count() == 1


@pytest.mark.django_db
def test_ensure_superuser_names_what_is_missing(monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_USERNAME", raising=False)
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="DJANGO_SUPERUSER_USERNAME, DJANGO_SUPERUSER_PASSWORD"):
        call_command("ensure_superuser")


@pytest.mark.django_db
def test_seed_demo_is_idempotent(tmp_path, settings):
    from blog.models import Post

    settings.DEBUG = True
    call_command("seed_demo", password_file=str(tmp_path / "login.txt"))
    first = (tmp_path / "login.txt").read_text()
    count = Post.objects.count()
    call_command("seed_demo", password_file=str(tmp_path / "login.txt"))
    assert Post.objects.count() == count >= 3
    assert (tmp_path / "login.txt").read_text() == first
    assert Post.objects.published().count() == count
