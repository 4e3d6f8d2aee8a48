"""The declared environment variables: the one list, its reader, and what is made from it."""

import re
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import DECLARED, VARIABLES, env, markdown_table
from harness.paths import ROOT

# Where the README keeps the generated table.
TABLE = re.compile(
    r"<!-- generated from config/env.py by `python -m config.env`; edit that file, not this "
    r"table -->\n(.*?)<!-- end of the generated table -->",
    re.S,
)
READ = re.compile(r"""\benv\(\s*["']([A-Z][A-Z0-9_]+)["']""")


def test_the_readme_table_is_the_generated_one():
    found = TABLE.search((ROOT / "README.md").read_text())
    assert found, "README.md has lost the markers around the configuration table"
    assert found.group(1) == markdown_table(), "run `python -m config.env` into README.md"


def test_the_generator_prints_the_table():
    result = subprocess.run(
        [sys.executable, "-m", "config.env"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout == markdown_table()
    assert result.stdout.count("\n") == len(VARIABLES) + 2


def test_an_undeclared_variable_cannot_be_read(monkeypatch):
    monkeypatch.setenv("KUBEBLOG_NOT_DECLARED", "1")
    with pytest.raises(ImproperlyConfigured, match=r"not declared in config/env\.py"):
        env("KUBEBLOG_NOT_DECLARED")


def test_declared_casts_and_defaults_apply(monkeypatch):
    monkeypatch.delenv("DATABASE_POOL_MAX_SIZE", raising=False)
    assert env("DATABASE_POOL_MAX_SIZE") == 4
    monkeypatch.setenv("DATABASE_POOL_MAX_SIZE", "9")
    assert env("DATABASE_POOL_MAX_SIZE") == 9
    monkeypatch.setenv("ALLOWED_HOSTS", "a.example,b.example")
    assert env("ALLOWED_HOSTS") == ["a.example", "b.example"]
    monkeypatch.setenv("APP_PAGE_CACHE", "false")
    assert env("APP_PAGE_CACHE") is False


def test_a_required_variable_names_itself_when_missing(monkeypatch):
    monkeypatch.delenv("DJANGO_SECRET_KEY", raising=False)
    with pytest.raises(ImproperlyConfigured, match=r"^Set the DJANGO_SECRET_KEY environment var"):
        env("DJANGO_SECRET_KEY")


def _sources() -> dict[str, str]:
    return {
        str(path.relative_to(ROOT)): path.read_text()
        for folder in ("config", "ops", "blog")
        for path in (ROOT / folder).rglob("*.py")
        if "tests" not in path.parts and path.name != "env.py"
    }


def test_every_declared_variable_is_read_and_nothing_reads_the_environment_directly():
    sources = _sources()
    read = {name for text in sources.values() for name in READ.findall(text)}
    by_libraries = {v.name for v in VARIABLES if v.read_by}  # the OpenTelemetry SDK's own
    unread = set(DECLARED) - read - by_libraries - {"DJANGO_SETTINGS_MODULE"}  # Django's
    assert unread == set(), f"declared in config/env.py but read nowhere: {sorted(unread)}"
    direct = {
        where: re.findall(r"os\.environ(?:\.get)?\[?\(?[\"']([A-Z_]+)", text)
        for where, text in sources.items()
    }
    allowed = {"config/gunicorn.conf.py": ["PROMETHEUS_MULTIPROC_DIR"]}  # prometheus_client's
    assert {k: v for k, v in direct.items() if v} == allowed
