"""Search a stored document: a tsvector column that a trigger keeps in step, GIN-indexed.

Why: ranking needs the document of every matching post. Computed from the title and body at
query time it cost about 0.6 ms per post, and PostgreSQL prices to_tsvector so low that it
computed it for every post rather than use the expression index of 0002: one search over
1,000 posts of 3 KB took a second. Stored, the same search takes a few milliseconds.

Expand only, safe beside the previous release: the column is nullable (no table rewrite) and
the trigger fills it on every insert and on every change of title or body, whichever release
writes. Existing rows are filled here. The expression index of 0002 is replaced by an index on
the column under the same name; the previous release's search (which the planner did not run
through that index anyway, see above) still works without it. PostgreSQL only, like 0002.
"""

from django.db import migrations

# The same document as 0002's expression: title weighted A, body weighted B, English.
DOCUMENT = (
    "setweight(to_tsvector('english'::regconfig, coalesce({row}title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce({row}body, '')), 'B')"
)

FORWARD = [
    "ALTER TABLE blog_post ADD COLUMN search_document tsvector",
    "CREATE FUNCTION blog_post_search_document() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN NEW.search_document := {DOCUMENT.format(row='NEW.')}; RETURN NEW; END $$",
    "CREATE TRIGGER blog_post_search_document BEFORE INSERT OR UPDATE OF title, body "
    "ON blog_post FOR EACH ROW EXECUTE FUNCTION blog_post_search_document()",
    f"UPDATE blog_post SET search_document = {DOCUMENT.format(row='')}",
    "DROP INDEX IF EXISTS post_search_idx",
    "CREATE INDEX post_search_idx ON blog_post USING gin (search_document)",
]

BACKWARD = [
    "DROP INDEX IF EXISTS post_search_idx",
    "DROP TRIGGER IF EXISTS blog_post_search_document ON blog_post",
    "DROP FUNCTION IF EXISTS blog_post_search_document()",
    "ALTER TABLE blog_post DROP COLUMN IF EXISTS search_document",
    f"CREATE INDEX post_search_idx ON blog_post USING gin (({DOCUMENT.format(row='')}))",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in FORWARD:
            schema_editor.execute(statement)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("blog", "0002_post_search_index")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
