"""Production settings: fail fast with one clear line, and pass Django's deployment checks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.paths import ROOT

COMPLETE = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "a-test-only-key-that-is-long-enough-for-django-checks-0123456789",
    "DATABASE_URL": "postgres://u:p@127.0.0.1:1/db",
    "ALLOWED_HOSTS": "blog.example.com",
    "EMAIL_HOST": "smtp.example.com",
    "S3_BUCKET": "kubeblog-media",
    "MEDIA_URL": "https://media.blog.example.com/",
}


def _run(args, env):
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ["PATH"], **env},
    )


@pytest.mark.parametrize(
    "missing", ["DJANGO_SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS", "EMAIL_HOST"]
)
@pytest.mark.parametrize(
    "entry",
    [
        ["manage.py", "check"],
        ["-c", "import config.wsgi"],
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "config/gunicorn.conf.py"],
    ],
    ids=["manage.py", "wsgi", "gunicorn"],
)
def test_a_missing_variable_stops_start_up_with_one_line_naming_it(missing, entry):
    env = {k: v for k, v in COMPLETE.items() if k != missing}
    if entry[0].endswith("gunicorn"):
        result = subprocess.run(
            entry,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": os.environ["PATH"], **env},
        )
    else:
        result = _run(entry, env)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [f"kubeblog: configuration error: Set the {missing} environment variable"]
    assert "Traceback" not in result.stdout + result.stderr


def test_a_bad_theme_colour_is_refused(tmp_path):
    result = _run(["manage.py", "check"], {**COMPLETE, "THEME_COLOR": "red;}body{display:none"})
    assert result.returncode == 2
    assert "THEME_COLOR must be a CSS colour name or #hex value" in result.stderr


def test_production_settings_pass_check_deploy():
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], COMPLETE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_signs_with_exactly_the_key_it_is_given():
    # Never a generated one: every replica must sign cookies alike (a missing key stops
    # start-up, test_a_missing_variable_stops_start_up_with_one_line_naming_it).
    show = "import config.wsgi; from django.conf import settings; print(settings.SECRET_KEY)"
    runs = [_run(["-c", show], COMPLETE) for _ in range(2)]
    assert [r.stdout.strip() for r in runs] == [COMPLETE["DJANGO_SECRET_KEY"]] * 2, runs


def test_production_keeps_images_in_the_bucket_and_lets_pages_load_them_only_from_it():
    show = (
        "import config.wsgi; from django.conf import settings as s; "
        "o = s.STORAGES['default']; print(o['BACKEND'], o['OPTIONS']['bucket_name']); "
        "print(' '.join(s.CONTENT_SECURITY_POLICY['DIRECTIVES']['img-src']))"
    )
    result = _run(["-c", show], {**COMPLETE, "MEDIA_URL": "https://cdn.example.net/media/"})
    assert result.stdout.splitlines() == [
        "storages.backends.s3.S3Storage kubeblog-media",
        "'self' https://cdn.example.net",
    ], result.stderr


def test_database_url_gets_a_checked_pool_and_every_timeout():
    from config.settings.base import database_from_url
    from ops.deadlines import PooledConnection

    db = database_from_url("postgres://u:p@db.internal:5432/blog")
    options, pool = db["OPTIONS"], db["OPTIONS"]["pool"]
    assert (pool["max_size"], pool["timeout"]) == (4, 2.0)
    assert pool["connection_class"] is PooledConnection
    assert db["CONN_HEALTH_CHECKS"] is True
    assert db["DISABLE_SERVER_SIDE_CURSORS"] is False
    assert options["connect_timeout"] == 2
    assert (options["keepalives"], options["tcp_user_timeout"]) == (1, 5000)
    assert options["options"] == (
        "-c statement_timeout=3000 -c lock_timeout=2000 "
        "-c idle_in_transaction_session_timeout=10000"
    )
    assert "pool" not in database_from_url("sqlite:///x.db").get("OPTIONS", {})


def test_pgbouncer_mode_sends_no_startup_options(monkeypatch):
    monkeypatch.setenv("DATABASE_PGBOUNCER", "true")
    from config.settings.base import database_from_url

    db = database_from_url("postgres://u:p@pooler:5432/blog")
    assert db["DISABLE_SERVER_SIDE_CURSORS"]
    assert db["OPTIONS"]["prepare_threshold"] is None
    assert "options" not in db["OPTIONS"]  # PgBouncer refuses them: role settings instead
    assert "target_session_attrs" not in db["OPTIONS"]  # the Pooler only reaches the primary


def test_direct_connections_write_only_to_a_primary(monkeypatch):
    """A connection straight to PostgreSQL asks libpq for a read-write session, so after a
    failover it never writes to a standby (the old primary); a URL may say otherwise, and
    so may a migration's direct URL behind PgBouncer settings; SQLite gets nothing."""
    from config.settings.base import database_from_url

    direct = database_from_url("postgres://u:p@db.internal:5432/blog")
    assert direct["OPTIONS"]["target_session_attrs"] == "read-write"
    chosen = database_from_url("postgres://u:p@db:5432/blog?target_session_attrs=any")
    assert chosen["OPTIONS"]["target_session_attrs"] == "any"
    monkeypatch.setenv("DATABASE_PGBOUNCER", "true")
    migration = database_from_url(
        "postgres://u:p@kubeblog-db-rw:5432/blog?target_session_attrs=read-write"
    )
    assert migration["OPTIONS"]["target_session_attrs"] == "read-write"
    assert "target_session_attrs" not in database_from_url("sqlite:///x.db").get("OPTIONS", {})


def test_make_migrations_is_clean(db):
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
