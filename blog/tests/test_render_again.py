"""HTML an older release stored is rendered again in the background (blog.tasks.render_again).

"Older" is made the way an older release left it: the stored HTML of its own renderer (a
`<h1>` heading, no highlighting) and no `rendering` recorded.
"""

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from blog import tasks
from blog.markdown import RENDERING
from blog.models import Comment, Post
from blog.tests.factories import CommentFactory, PostFactory

pytestmark = pytest.mark.django_db

BODY = "# Setting up\n\n```python\nprint('hi')\n```\n\nSee https://example.com"
OLD_HTML = "<h1>Setting up</h1>\n<pre><code>print('hi')</code></pre>"


def _as_an_older_release_left(row) -> None:
    if isinstance(row, Post):
        Post.objects.filter(pk=row.pk).update(body_html=OLD_HTML, summary="old", rendering=None)
    else:
        Comment.objects.filter(pk=row.pk).update(text_html=OLD_HTML, rendering=None)
    row.refresh_from_db()


def _queued() -> list[DBTaskResult]:
    return list(
        DBTaskResult.objects.filter(
            status=TaskResultStatus.READY, task_path=tasks.render_again.module_path
        )
    )


def test_a_save_records_which_renderer_made_the_html(author):
    post = PostFactory(author=author, body=BODY)
    comment = CommentFactory(post=post, text=BODY)
    assert (post.rendering, comment.rendering) == (RENDERING, RENDERING)
    assert tasks.queue_render_again() == 0
    assert _queued() == []


def test_housekeeping_queues_one_task_that_renders_older_html_again(author, client, settings):
    settings.APP_PAGE_CACHE = True
    settings.PUBLIC_PAGE_TTL = 300
    old_post = PostFactory(author=author, title="Written long ago", body=BODY)
    _as_an_older_release_left(old_post)
    old_comment = CommentFactory(post=old_post, text=BODY, approved=True)
    _as_an_older_release_left(old_comment)
    current = PostFactory(author=author, body="Today.")
    Post.objects.filter(pk=current.pk).update(body_html="<p>left alone</p>")
    url = old_post.get_absolute_url()
    assert b"<h1>Setting up</h1>" in client.get(url).content
    with CaptureQueriesContext(connection) as queries:
        assert b"<h1>Setting up</h1>" in client.get(url).content
    assert len(queries) == 0  # the page cache keeps it

    call_command("housekeeping")
    call_command("housekeeping")
    assert len(_queued()) == 1  # one task, however often housekeeping runs before it
    assert tasks.render_again.call() == "rendered 2 again"

    old_post.refresh_from_db()
    old_comment.refresh_from_db()
    assert old_post.rendering == old_comment.rendering == RENDERING
    for html in (old_post.body_html, old_comment.text_html):
        assert "<h2>Setting up</h2>" in html
        assert 'class="highlight' in html
        assert '<a href="https://example.com"' in html
    assert old_post.summary == "Setting up See https://example.com"
    assert Post.objects.get(pk=old_post.pk).updated_date == old_post.updated_date
    assert Post.objects.get(pk=current.pk).body_html == "<p>left alone</p>"
    page = client.get(url).content  # the cached page was retired
    assert b"<h2>Setting up</h2>" in page and b"<h1>Setting up</h1>" not in page
    assert tasks.queue_render_again() == 0


def test_a_batch_at_a_time_and_the_rest_in_a_task_of_its_own(author, monkeypatch):
    monkeypatch.setattr(tasks, "RENDER_AGAIN_BATCH", 2)
    monkeypatch.setattr(tasks, "RENDER_AGAIN_SECONDS", 0)  # one batch, then make way
    posts = [PostFactory(author=author, body=BODY) for _ in range(3)]
    for post in posts:
        _as_an_older_release_left(post)

    assert tasks.render_again.call() == "rendered 2 again; the rest next"
    assert len(_queued()) == 1
    assert tasks.queue_render_again() == 1  # and no second task for it
    assert len(_queued()) == 1
    assert tasks.render_again.call() == "rendered 1 again"
    assert all(p.rendering == RENDERING for p in Post.objects.all())
