"""The one-time token of the form that created a post or a comment (expand only).

Nullable and without a default, so adding the column changes only the catalogue (no table
rewrite, the lock held for an instant), existing rows read NULL, and the previous release,
which never names the column, keeps inserting rows without it. The unique indexes that make
the token mean something are built in 0005, concurrently.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("blog", "0003_post_search_document")]

    operations = [
        migrations.AddField(
            model_name="post",
            name="creation_token",
            field=models.UUIDField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="comment",
            name="creation_token",
            field=models.UUIDField(blank=True, editable=False, null=True),
        ),
    ]
