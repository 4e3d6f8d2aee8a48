"""No migration blocks a busy table: squawk and our own checks (ops/tests/migration_checks.py)."""

from io import StringIO

import pytest
from django.contrib.postgres.operations import AddIndexConcurrently
from django.core.management import call_command
from django.db import connection, migrations, models
from django.db.migrations.loader import MigrationLoader

from ops.tests.migration_checks import (
    check_operations,
    lint,
    migration_sql,
    own_migrations,
    squawk,
    state_after,
)

# sqlmigrate and the checks read the SQL PostgreSQL, the production database, would run;
# transaction=True because a concurrent index cannot even be written out in a transaction.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

# Findings accepted on migrations that were applied everywhere before these checks existed,
# and the one a new migration cannot fix: a key to auth_user.id has that column's type.
# Each names its rule and why it is tolerated; any other finding is fixed.
# An entry no longer found fails test_the_allow_list_is_still_needed.
ALLOWED: dict[tuple[str, str], dict[str, str]] = {
    ("blog", "0001_initial"): {
        # blog_post.author_id references auth_user.id, which Django's auth app made an
        # integer; the key must have the type of what it references.
        "prefer-bigint-over-int": "a foreign key to auth_user.id (integer)",
    },
    ("blog", "0008_authorprofile"): {
        # A new table whose user_id references auth_user.id (integer), as 0001's author_id.
        "prefer-bigint-over-int": "a foreign key to auth_user.id (integer)",
    },
    ("blog", "0002_post_search_index"): {
        # The expression index for search, built in the transaction: blog_post held a few
        # hundred rows. 0003 replaced it.
        "require-concurrent-index-creation": "CREATE INDEX post_search_idx in the transaction",
        "index-not-concurrent": "the same CREATE INDEX, seen by our own check",
    },
    ("blog", "0003_post_search_document"): {
        # Applied when blog_post held a few hundred rows, in well under a second. On a big
        # table each of these would block writes (and the UPDATE every reader of a locked
        # row) for minutes: docs/operations.md shows the pattern to follow instead.
        "require-concurrent-index-creation": "CREATE INDEX post_search_idx in the transaction",
        "require-concurrent-index-deletion": "DROP INDEX post_search_idx in the transaction",
        "index-not-concurrent": "the same CREATE INDEX, seen by our own check",
        "backfill-with-ddl": "UPDATE blog_post in the transaction of ALTER TABLE blog_post",
    },
    ("blog", "0005_creation_token_unique"): {
        # Each CREATE UNIQUE INDEX CONCURRENTLY follows DROP INDEX CONCURRENTLY IF EXISTS
        # of the same name, so a rerun after a failed build starts clean (and IF NOT EXISTS
        # would keep an INVALID index). squawk only accepts IF NOT EXISTS.
        "prefer-robust-stmts": "rerun-safe by dropping first, see the migration's docstring",
    },
}

MIGRATIONS = sorted(
    key
    for key in MigrationLoader(None, ignore_no_migrations=True).disk_migrations
    if key[0] in {"blog", "ops", "config"}
)


@pytest.mark.parametrize("key", MIGRATIONS, ids=["/".join(key) for key in MIGRATIONS])
def test_every_migration_passes_squawk_and_the_checks(key):
    migration, state = dict(((m.app_label, m.name), (m, s)) for m, s in _own())[key]
    allowed = ALLOWED.get(key, {})
    findings = [f for f in lint(migration, state, connection) if f.rule not in allowed]
    assert findings == [], "\n".join(map(str, findings))


def test_every_own_migration_is_checked():
    assert {(m.app_label, m.name) for m, _ in _own()} == set(MIGRATIONS)


def test_the_allow_list_is_still_needed():
    found = {(m.app_label, m.name): {f.rule for f in lint(m, s, connection)} for m, s in _own()}
    stale = {
        key: sorted(set(rules) - found.get(key, set()))
        for key, rules in ALLOWED.items()
        if set(rules) - found.get(key, set())
    }
    assert stale == {}


def test_squawk_reads_what_sqlmigrate_writes():
    # Our collector is sqlmigrate's own, plus the statements of a RunPython's code.
    for migration, state in _own():
        out = StringIO()
        call_command("sqlmigrate", migration.app_label, migration.name, stdout=out)
        written = [line for line in out.getvalue().splitlines() if not line.startswith("--")]
        collected = migration_sql(migration, state, connection).text.splitlines()
        assert _in_order(written, collected), migration.name


def test_squawk_sees_the_statements_of_a_run_python():
    # 0003 is one RunPython: sqlmigrate writes nothing of it, the trace writes all of it.
    migration, state = next((m, s) for m, s in _own() if m.name.startswith("0003"))
    text = migration_sql(migration, state, connection).text
    assert "ALTER TABLE blog_post ADD COLUMN search_document tsvector;" in text
    assert "CREATE INDEX post_search_idx ON blog_post USING gin (search_document);" in text


# --- each check fails on a bad migration and passes on the good way to do the same ---------


def _comment_index():
    return models.Index(fields=["author_name"], name="comment_author_idx")


def _backfill(apps, schema_editor):
    apps.get_model("blog", "Comment").objects.filter(approved=False).update(author_name="x")


BAD = {
    "AddIndex on an existing table": (
        [migrations.AddIndex("comment", _comment_index())],
        True,
        {"index-not-concurrent", "require-concurrent-index-creation"},
    ),
    "AlterField db_index on an existing table": (
        [
            migrations.AlterField(
                "comment", "author_name", models.CharField("name", max_length=80, db_index=True)
            )
        ],
        True,
        {"index-not-concurrent", "require-concurrent-index-creation"},
    ),
    "AddField unique on an existing table": (
        [migrations.AddField("post", "slug", models.SlugField(null=True, unique=True))],
        True,
        {"index-not-concurrent", "disallowed-unique-constraint"},
    ),
    "CREATE INDEX in RunSQL on an existing table": (
        [migrations.RunSQL("CREATE INDEX comment_text_idx ON blog_comment (author_name)")],
        True,
        {"index-not-concurrent", "require-concurrent-index-creation"},
    ),
    "AddIndexConcurrently in an atomic migration": (
        [AddIndexConcurrently("comment", _comment_index())],
        True,
        {"concurrent-in-atomic"},
    ),
    "RunPython backfill with AddField": (
        [
            migrations.AddField("comment", "note", models.TextField(null=True)),
            migrations.RunPython(_backfill, migrations.RunPython.noop),
        ],
        True,
        {"backfill-with-ddl"},
    ),
    "RunSQL UPDATE with AddField": (
        [
            migrations.AddField("comment", "note", models.TextField(null=True)),
            migrations.RunSQL("UPDATE blog_comment SET note = text", migrations.RunSQL.noop),
        ],
        True,
        {"backfill-with-ddl"},
    ),
    "one RunSQL with ALTER TABLE and UPDATE (the shape of 0003)": (
        [
            migrations.RunSQL(
                "ALTER TABLE blog_comment ADD COLUMN note text; UPDATE blog_comment SET note = text"
            )
        ],
        False,
        {"backfill-with-ddl"},
    ),
    "a column with a volatile default (a table rewrite)": (
        [
            migrations.RunSQL(
                "ALTER TABLE blog_comment ADD COLUMN seen timestamptz NOT NULL "
                "DEFAULT clock_timestamp()"
            )
        ],
        True,
        {"adding-field-with-default"},
    ),
    "a ForeignKey added to an existing table": (
        [
            migrations.AddField(
                "comment",
                "reply_to",
                models.ForeignKey("blog.Comment", null=True, on_delete=models.SET_NULL),
            )
        ],
        True,
        {"index-not-concurrent", "adding-foreign-key-constraint"},
    ),
    "a concurrent build that cannot be rerun": (
        # Django's AddIndexConcurrently: a build that fails half way leaves an INVALID index
        # under the name, and the rerun stops on it.
        [AddIndexConcurrently("comment", _comment_index())],
        False,
        {"prefer-robust-stmts"},
    ),
}

GOOD = {
    "a concurrent build, rerun-safe, in a non-atomic migration": (
        [
            migrations.RunSQL(
                [
                    "DROP INDEX CONCURRENTLY IF EXISTS comment_author_idx",
                    "CREATE INDEX CONCURRENTLY IF NOT EXISTS comment_author_idx "
                    "ON blog_comment (author_name)",
                ],
                "DROP INDEX CONCURRENTLY IF EXISTS comment_author_idx",
                state_operations=[migrations.AddIndex("comment", _comment_index())],
            )
        ],
        False,
    ),
    "a nullable column": (
        [migrations.AddField("comment", "note", models.TextField(null=True))],
        True,
    ),
    "a backfill of its own": ([migrations.RunPython(_backfill, migrations.RunPython.noop)], True),
    "a new table with its indexes": (
        [
            migrations.CreateModel(
                "Tag",
                [
                    ("id", models.BigAutoField(primary_key=True)),
                    ("post", models.ForeignKey("blog.Post", on_delete=models.CASCADE)),
                    ("name", models.TextField(db_index=True)),
                ],
            )
        ],
        True,
    ),
}


@pytest.mark.parametrize("name", BAD)
def test_a_blocking_migration_fails(name):
    operations, atomic, rules = BAD[name]
    migration, state = _unsaved(operations, atomic)
    found = {f.rule for f in lint(migration, state, connection)}
    assert rules <= found, found


@pytest.mark.parametrize("name", GOOD)
def test_the_safe_way_passes(name):
    operations, atomic = GOOD[name]
    migration, state = _unsaved(operations, atomic)
    assert lint(migration, state, connection) == []


def test_the_operation_checks_alone_catch_what_squawk_cannot_see():
    # squawk reads statements one by one: an UPDATE after an ADD COLUMN is fine to it.
    migration, state = _unsaved(BAD["RunSQL UPDATE with AddField"][0], True)
    sql = migration_sql(migration, state, connection)
    assert squawk(sql.text, "x.sql") == []
    assert [f.rule for f in check_operations(migration, state, sql)] == ["backfill-with-ddl"]


def test_the_index_check_accepts_add_index_concurrently_outside_a_transaction():
    migration, state = _unsaved([AddIndexConcurrently("comment", _comment_index())], False)
    assert check_operations(migration, state, migration_sql(migration, state, connection)) == []


def _own():
    return [(m, s) for m, s in own_migrations(connection)]


def _unsaved(operations, atomic: bool) -> tuple[migrations.Migration, object]:
    """A migration that is not on disk, on top of blog's latest, and the state before it."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    (leaf,) = loader.graph.leaf_nodes("blog")
    migration = type(
        "Migration",
        (migrations.Migration,),
        {"dependencies": [leaf], "operations": operations, "atomic": atomic},
    )("0999_example", "blog")
    return migration, state_after(connection, *leaf)


def _in_order(needles: list[str], haystack: list[str]) -> bool:
    it = iter(haystack)
    return all(any(line == hay for hay in it) for line in needles)
