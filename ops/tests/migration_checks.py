"""What a migration would block on a busy table: squawk on its SQL, plus checks on its operations.

squawk (PyPI squawk-cli, configured by .squawk.toml) reads the SQL a migration runs on
PostgreSQL, as `manage.py sqlmigrate` writes it. sqlmigrate cannot write a RunPython, so its
code is run here with a schema editor that collects the SQL instead of running it, inside a
transaction that is rolled back: 0003, one RunPython, is then as visible as a RunSQL.

squawk reads statements one at a time and cannot know which tables existed before the
migration or what runs in one transaction, so two checks work on the operations themselves
(docs/operations.md, "Schema changes"):

- index-not-concurrent: an index on a table that existed before the migration is built
  with CREATE INDEX CONCURRENTLY (AddIndexConcurrently) in a migration with atomic = False;
  a plain build blocks every write to the table for as long as it takes.
- backfill-with-ddl: a backfill (RunPython, or SQL with UPDATE/INSERT/DELETE) never shares a
  transaction with schema changes, whose locks it would hold until every row is written.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import sqlparse
from django.apps import apps as global_apps
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.operations import NotInTransactionMixin
from django.db import DatabaseError, NotSupportedError, migrations, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState
from django.db.models import UniqueConstraint

from harness.paths import ROOT

SQUAWK = Path(sys.executable).parent / "squawk"
SQUAWK_CONFIG = ROOT / ".squawk.toml"

DML = re.compile(r"^\s*(UPDATE|INSERT|DELETE|MERGE|COPY)\b", re.I)
DDL = re.compile(r"^\s*(ALTER|CREATE|DROP|COMMENT\s+ON|REINDEX|CLUSTER|VACUUM\s+FULL)\b", re.I)
CREATE_INDEX = re.compile(
    r"^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?P<concurrently>CONCURRENTLY\s+)?"
    r"(?:IF\s+NOT\s+EXISTS\s+)?(?:\"?\w+\"?\s+)?ON\s+(?:ONLY\s+)?\"?(?P<table>\w+)\"?",
    re.I,
)
CONCURRENTLY = re.compile(r"\bCONCURRENTLY\b", re.I)


@dataclass(frozen=True)
class Finding:
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


@dataclass
class MigrationSQL:
    """A migration's SQL on PostgreSQL: the text for squawk and each operation's statements."""

    text: str
    by_operation: list[tuple[Operation, list[str]]]
    findings: list[Finding]  # what could not be collected


def own_app_labels() -> list[str]:
    """The apps whose code lives in this repository (not Django's, not a dependency's, even
    when the virtualenv holding those is inside the checkout, as `make` puts it)."""
    return [
        config.label
        for config in global_apps.get_app_configs()
        if Path(config.path).resolve().is_relative_to(ROOT)
        and "site-packages" not in Path(config.path).resolve().parts
    ]


def own_migrations(connection) -> list[tuple[migrations.Migration, ProjectState]]:
    """Every migration of our own apps on disk, with the project state just before it."""
    loader = MigrationLoader(connection, ignore_no_migrations=True)
    labels = set(own_app_labels())
    keys = sorted(key for key in loader.disk_migrations if key[0] in labels)
    return [(loader.get_migration(*key), loader.project_state(key, at_end=False)) for key in keys]


def state_after(connection, app_label: str, name: str) -> ProjectState:
    """The project state once migration (app_label, name) is applied."""
    return MigrationLoader(connection, ignore_no_migrations=True).project_state((app_label, name))


def migration_sql(migration: migrations.Migration, state: ProjectState, connection) -> MigrationSQL:
    """What `sqlmigrate` writes for the migration, a RunPython's statements traced in place."""
    state = state.clone()
    app_label = migration.app_label
    by_operation: list[tuple[Operation, list[str]]] = []
    findings: list[Finding] = []
    in_transaction = migration.atomic and connection.features.can_rollback_ddl
    lines = ["BEGIN;"] if in_transaction else []
    with connection.schema_editor(collect_sql=True, atomic=migration.atomic) as editor:
        for operation in migration.operations:
            editor.collected_sql.extend(["--", f"-- {operation.describe()}", "--"])
            start = len(editor.collected_sql)
            before = state.clone()
            operation.state_forwards(app_label, state)
            try:
                if isinstance(operation, migrations.RunPython):
                    own = not migration.atomic and operation.atomic
                    editor.collected_sql.extend(["BEGIN;"] if own else [])
                    _trace(operation, before, editor)
                    editor.collected_sql.extend(["COMMIT;"] if own else [])
                else:
                    operation.database_forwards(app_label, editor, before, state)
            except (DatabaseError, NotSupportedError) as exc:
                findings.append(
                    Finding("not-collected", f"{operation.describe()}: {exc}".splitlines()[0])
                )
            by_operation.append((operation, _statements(editor.collected_sql[start:])))
        # The schema editor adds its deferred statements (indexes, foreign keys) on exit.
    lines += editor.collected_sql
    lines += ["COMMIT;"] if in_transaction else []
    return MigrationSQL("\n".join(lines) + "\n", by_operation, findings)


def _trace(operation: migrations.RunPython, state: ProjectState, editor) -> None:
    """Run a RunPython's code with the collecting editor; what it sends to the database
    itself (a backfill through the ORM) is recorded too, then rolled back."""
    connection = editor.connection

    def record(execute, sql, params, many, context):
        if params:
            first = params[0] if many else params
            editor.collected_sql.append(connection.ops.compose_sql(sql, first) + ";")
        else:
            editor.collected_sql.append(sql.rstrip().rstrip(";") + ";")
        return execute(sql, params, many, context)

    class RolledBack(Exception):
        pass

    try:
        with transaction.atomic(using=connection.alias), connection.execute_wrapper(record):
            operation.code(state.apps, editor)
            raise RolledBack
    except RolledBack:
        pass


def _statements(lines: list[str]) -> list[str]:
    return [
        statement
        for line in lines
        if not line.startswith("--") and line not in ("BEGIN;", "COMMIT;")
        for statement in sqlparse.split(line)
        if statement.strip()
    ]


def squawk(sql: str, filename: str) -> list[Finding]:
    """squawk's findings on the SQL, with the project's .squawk.toml."""
    result = subprocess.run(
        [
            str(SQUAWK),
            "--config",
            str(SQUAWK_CONFIG),
            "--reporter=json",
            f"--stdin-filepath={filename}",
        ],
        input=sql,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    try:
        violations = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"squawk failed ({result.returncode}): {result.stderr}") from None
    return [
        Finding(v["rule_name"], f"line {v['line']}: {v['message']} {v.get('help') or ''}".strip())
        for v in violations
    ]


def check_operations(
    migration: migrations.Migration, state: ProjectState, sql: MigrationSQL
) -> list[Finding]:
    """index-not-concurrent and backfill-with-ddl (see the module's docstring)."""
    return _index_findings(migration, state, sql) + _backfill_findings(migration, sql)


def lint(migration: migrations.Migration, state: ProjectState, connection) -> list[Finding]:
    """Every finding on a migration: what could not be collected, the operation checks, squawk."""
    sql = migration_sql(migration, state, connection)
    return (
        sql.findings
        + check_operations(migration, state, sql)
        + squawk(sql.text, f"{migration.app_label}/{migration.name}.sql")
    )


def _tables(state: ProjectState) -> dict[str, tuple[str, str]]:
    """The tables of the state's models, each with its model key."""
    return {
        model.options.get("db_table") or f"{app}_{name}": (app, name)
        for (app, name), model in state.models.items()
        if model.options.get("managed", True) and not model.options.get("proxy", False)
    }


def _index_findings(migration, state: ProjectState, sql: MigrationSQL) -> list[Finding]:
    existing = _tables(state)
    existing_models = set(existing.values())
    findings: list[Finding] = []
    running = state.clone()
    for operation, statements in sql.by_operation:
        before = running.clone()
        operation.state_forwards(migration.app_label, running)
        concurrent = isinstance(operation, NotInTransactionMixin) or any(
            CONCURRENTLY.search(s) for s in statements
        )
        if concurrent and migration.atomic:
            findings.append(
                Finding(
                    "concurrent-in-atomic",
                    f"{operation.describe()}: CONCURRENTLY cannot run in a transaction; "
                    "put it in a migration of its own with atomic = False",
                )
            )
        key = (migration.app_label, getattr(operation, "model_name_lower", None))
        on_existing = key in existing_models
        why = _index_built(operation, before, key) if on_existing else None
        if why and not isinstance(operation, NotInTransactionMixin):
            findings.append(
                Finding(
                    "index-not-concurrent",
                    f"{operation.describe()}: {why}; build it with AddIndexConcurrently "
                    "(CREATE INDEX CONCURRENTLY) in a migration with atomic = False",
                )
            )
        if isinstance(operation, migrations.RunSQL | migrations.RunPython):
            for statement in statements:
                match = CREATE_INDEX.match(statement)
                if match and not match["concurrently"] and match["table"] in existing:
                    findings.append(
                        Finding(
                            "index-not-concurrent",
                            f"{statement[:120]}: {match['table']} existed before this "
                            "migration; CREATE INDEX CONCURRENTLY, with atomic = False",
                        )
                    )
    return findings


def _index_built(operation: Operation, before: ProjectState, key) -> str | None:
    """Why the operation builds an index on the model's table, or None."""
    if isinstance(operation, migrations.AddIndex):
        return "builds an index on an existing table, blocking its writes"
    if isinstance(operation, migrations.AddConstraint):
        constraint = operation.constraint
        if isinstance(constraint, UniqueConstraint | ExclusionConstraint):
            return "a unique or exclusion constraint builds an index on an existing table"
        return None
    if isinstance(operation, migrations.AddField):
        field = operation.field
        if not field.primary_key and (field.db_index or field.unique):
            return "the field is indexed (db_index, unique or a ForeignKey) on an existing table"
        return None
    if isinstance(operation, migrations.AlterField):
        old = before.models[key].fields.get(operation.name_lower) or before.models[key].fields.get(
            operation.name
        )
        new = operation.field
        if old is not None and (
            (new.db_index and not old.db_index) or (new.unique and not old.unique)
        ):
            return "db_index or unique added to a column of an existing table"
        return None
    if isinstance(operation, migrations.AlterUniqueTogether | migrations.AlterIndexTogether):
        option = operation.option_name
        old = set(before.models[key].options.get(option) or ())
        if set(operation.option_value or ()) - old:
            return f"{option} adds an index on an existing table"
    return None


def _backfill_findings(migration, sql: MigrationSQL) -> list[Finding]:
    """A backfill and schema changes that one transaction would hold together."""
    groups = [sql.by_operation] if migration.atomic else [[item] for item in sql.by_operation]
    findings: list[Finding] = []
    for group in groups:
        data, schema = [], []
        for operation, statements in group:
            if isinstance(operation, migrations.RunPython | migrations.RunSQL):
                if any(DML.match(s) for s in statements):
                    data.append(operation.describe())
                if any(DDL.match(s) for s in statements):
                    schema.append(operation.describe())
            elif statements:
                schema.append(operation.describe())
        if data and schema:
            findings.append(
                Finding(
                    "backfill-with-ddl",
                    f"{'; '.join(data)} writes rows in the transaction of "
                    f"{'; '.join(schema)}: backfill in batches, in a later migration or a "
                    "command, never with the schema change's locks held",
                )
            )
    return findings
