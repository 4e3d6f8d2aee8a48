"""Migrations must stay safe for a rolling update (expand/contract, see docs/operations.md)."""

import pytest
from django.core.management import call_command
from django.db import connection, migrations
from django.db.migrations.loader import MigrationLoader
from django_migration_linter import MigrationLinter

# The linter reads the SQL that PostgreSQL, the production database, would run.
pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_every_migration_is_backward_compatible():
    # Exits non-zero if any kubeblog migration drops or renames what the previous release reads.
    call_command("lintmigrations", verbosity=0)


@pytest.mark.parametrize(
    "operation",
    [
        migrations.RemoveField("post", "summary"),
        migrations.RenameField("post", "title", "headline"),
        migrations.DeleteModel("Comment"),
    ],
    ids=["drop column", "rename column", "drop table"],
)
def test_the_linter_catches_a_contract_step(operation):
    migration = type(
        "Migration",
        (migrations.Migration,),
        {"dependencies": [("blog", "0002_post_search_index")], "operations": [operation]},
    )("0099_contract", "blog")
    linter = _OneMigrationLinter(migration, database="default", no_cache=True)
    linter.lint_migration(migration)
    assert linter.has_errors


class _OneMigrationLinter(MigrationLinter):
    """The project's linter, fed the SQL of an unsaved migration instead of sqlmigrate's."""

    def __init__(self, migration, **options):
        super().__init__(**options)
        self.migration = migration

    @staticmethod
    def get_migration_hash(app_label, migration_name):
        return "unsaved"  # no file to hash

    def get_sql(self, app_label, migration_name):
        state = MigrationLoader(connection).project_state(("blog", "0002_post_search_index"))
        with connection.schema_editor(collect_sql=True, atomic=False) as editor:
            self.migration.apply(state, editor, collect_sql=True)
        return editor.collected_sql
