"""Release 2's expand migration (tests/drill/expand.py) applies under load without blocking it."""

import importlib.util
import shutil
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from harness.gunicorn import production_env
from harness.paths import ROOT
from ops.tests.migration_checks import lint, state_after
from tests.drill import expand

# The serving release's own limit on waiting for a lock (DATABASE_LOCK_TIMEOUT's default).
APP_LOCK_TIMEOUT = 2.0


def test_the_migration_follows_the_latest_one_on_disk():
    name, source = expand.migration_source()
    migration = _load(name, source)
    (leaf,) = MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes("blog")
    assert migration.dependencies == [leaf]
    assert int(name[:4]) == int(leaf[1][:4]) + 1
    assert migration.atomic is False


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_the_migration_passes_squawk_and_the_migration_checks():
    name, source = expand.migration_source()
    migration = _load(name, source)
    state = state_after(connection, *migration.dependencies[0])
    assert lint(migration, state, connection) == []


@pytest.mark.slow
@pytest.mark.postgres
def test_migrate_locked_applies_it_while_the_table_is_read_and_written(pg_server, tmp_path):
    release_two = _release_two_tree(tmp_path)
    with psycopg.connect(pg_server.url) as conn:
        post_id = _a_post(conn)
        assert expand.seed_comments(conn, post_id) == expand.SEED_ROWS
        assert expand.verify(conn)["ok"] is False

    load = _Load(pg_server.url, post_id)
    load.start()
    time.sleep(0.5)  # the load is under way before the migration starts
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate_locked", "-v1"],
        cwd=release_two,
        env=production_env(pg_server.url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    took = time.monotonic() - started
    during = load.count
    time.sleep(0.3)
    load.stop()

    assert result.returncode == 0, result.stderr
    assert f"Applying blog.{expand.migration_source()[0][:-3]}... OK" in result.stdout
    assert load.errors == []
    assert during > 20, f"only {during} statements ran during the {took:.1f}s migration"
    # Measured: the migration takes about 1 s, the slowest of some 400 statements 15 ms.
    slowest = max(load.latencies)
    assert slowest < APP_LOCK_TIMEOUT, f"a statement waited {slowest:.2f}s ({took:.1f}s migrate)"
    with psycopg.connect(pg_server.url) as conn:
        state = expand.verify(conn)
    assert state["ok"], state
    assert state["comments"] >= expand.SEED_ROWS


class _Load(threading.Thread):
    """Reads and writes blog_comment as the serving release does, with its lock timeout,
    timing every statement."""

    def __init__(self, url: str, post_id: int) -> None:
        super().__init__(daemon=True)
        self.url, self.post_id = url, post_id
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self._halt = threading.Event()

    @property
    def count(self) -> int:
        return len(self.latencies)

    def stop(self) -> None:
        self._halt.set()
        self.join(10)

    def run(self) -> None:
        statements = [
            (
                "SELECT id, author_name FROM blog_comment WHERE post_id = %s "
                "ORDER BY created_date DESC LIMIT 20",
                [self.post_id],
            ),
            (
                "INSERT INTO blog_comment (post_id, author_name, text, text_html, "
                "created_date, approved) VALUES (%s, 'Load', 'x', '<p>x</p>', now(), false)",
                [self.post_id],
            ),
            ("SELECT count(*) FROM blog_comment WHERE approved", []),
        ]
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"SET lock_timeout = '{int(APP_LOCK_TIMEOUT * 1000)}ms'")
            while not self._halt.is_set():
                for sql, params in statements:
                    started = time.monotonic()
                    try:
                        conn.execute(sql, params)
                    except psycopg.Error as exc:
                        self.errors.append(f"{type(exc).__name__}: {exc}")
                    self.latencies.append(time.monotonic() - started)
                time.sleep(0.005)


def _release_two_tree(tmp_path):
    """The code of release 2 as the image holds it (/app): release 1's, plus the migration."""
    app = tmp_path / "app"
    app.mkdir()
    shutil.copy2(ROOT / "manage.py", app)
    skip = shutil.ignore_patterns("tests", "__pycache__", "*.pyc")
    for folder in ("config", "ops", "blog", "templates"):
        shutil.copytree(ROOT / folder, app / folder, ignore=skip)
    expand.write_migration(app / "blog" / "migrations")
    return app


def _a_post(conn) -> int:
    user = conn.execute(
        "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, "
        "email, is_staff, is_active, date_joined) "
        "VALUES ('!', false, 'drill-author', '', '', '', false, true, now()) RETURNING id"
    ).fetchone()[0]
    post = conn.execute(
        "INSERT INTO blog_post (title, body, body_html, summary, created_date, updated_date, "
        "published_date, author_id) VALUES ('Drill', 'x', '<p>x</p>', 'x', now(), now(), now(), "
        "%s) RETURNING id",
        [user],
    ).fetchone()[0]
    conn.commit()
    return post


def _load(name: str, source: str):
    """The Migration the file would hold, named as Django's loader names it."""
    spec = importlib.util.spec_from_loader(f"drill_expand_{name[:-3]}", loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, name, "exec"), module.__dict__)  # noqa: S102 -- our own generated code
    return module.Migration(name[:-3], "blog")
