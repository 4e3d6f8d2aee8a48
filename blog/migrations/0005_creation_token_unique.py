"""Unique indexes on the creation tokens of 0004, built without blocking writes (expand only).

Each is a partial unique index on (owner, creation_token) WHERE creation_token IS NOT NULL:
the rows of the previous release hold NULL and are left out of it. On PostgreSQL it is built
with CREATE UNIQUE INDEX CONCURRENTLY, which lets both releases keep inserting while it is
built, and cannot run inside a transaction (hence atomic = False). A build that fails half
way (a lock or statement timeout) leaves an INVALID index under the name, which would stop
the retry; so each build first drops whatever an earlier attempt left.

The migration linter counts every new unique index as a step the previous release might
break (it could write duplicates). Not here: the columns are new, the previous release never
writes them, and NULLs are outside the indexes. config/settings/test.py therefore ignores
this migration by name, which is why it holds nothing but these two indexes.
"""

from django.contrib.postgres.operations import NotInTransactionMixin
from django.db import NotSupportedError, migrations, models

UNIQUE_INDEX = "CREATE UNIQUE INDEX "


class AddUniqueConstraintConcurrently(NotInTransactionMixin, migrations.AddConstraint):
    """AddConstraint for a conditional UniqueConstraint (a partial unique index), built
    CONCURRENTLY on PostgreSQL; other databases build it as AddConstraint does."""

    atomic = False

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if not self._concurrently(app_label, schema_editor, to_state):
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        model = to_state.apps.get_model(app_label, self.model_name)
        create = str(self.constraint.create_sql(model, schema_editor))
        if not create.startswith(UNIQUE_INDEX):
            raise NotSupportedError(f"{self.constraint.name} is not a unique index: {create}")
        self._drop(schema_editor)
        schema_editor.execute(
            f"{UNIQUE_INDEX}CONCURRENTLY {create.removeprefix(UNIQUE_INDEX)}", params=None
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if not self._concurrently(app_label, schema_editor, from_state):
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        self._drop(schema_editor)

    def _concurrently(self, app_label, schema_editor, state) -> bool:
        """On PostgreSQL, for a model this database holds: build or drop it here, outside a
        transaction. Otherwise AddConstraint's own way (which skips other databases' models)."""
        if schema_editor.connection.vendor != "postgresql":
            return False
        self._ensure_not_in_transaction(schema_editor)
        model = state.apps.get_model(app_label, self.model_name)
        return self.allow_migrate_model(schema_editor.connection.alias, model)

    def _drop(self, schema_editor):
        name = schema_editor.quote_name(self.constraint.name)
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}", params=None)

    def describe(self):
        return f"Concurrently create unique index {self.constraint.name} on model {self.model_name}"


def unique_per(owner: str, model_name: str) -> AddUniqueConstraintConcurrently:
    """A token is unique among the rows of one owner (an author's posts, a post's comments)."""
    return AddUniqueConstraintConcurrently(
        model_name=model_name,
        constraint=models.UniqueConstraint(
            condition=models.Q(creation_token__isnull=False),
            fields=(owner, "creation_token"),
            name=f"{model_name}_creation_token_uniq",
        ),
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("blog", "0004_creation_token")]

    operations = [unique_per("author", "post"), unique_per("post", "comment")]
