"""Every write the blog makes, each in one transaction.

Cached public pages are retired by blog.signals whenever a post or comment changes, so the
admin and these functions invalidate alike.
"""

from django.db import transaction
from django.utils import timezone

from blog.models import Comment, Post


@transaction.atomic
def post_create(*, author, title: str, body: str) -> Post:
    """Create a draft."""
    return Post.objects.create(author=author, title=title, body=body)


@transaction.atomic
def post_update(*, post: Post, title: str, body: str) -> Post:
    """Change a post's text; a published post stays published."""
    post.title = title
    post.body = body
    post.save()
    return post


@transaction.atomic
def post_publish(*, post: Post) -> Post:
    """Publish now a draft or a scheduled post; publishing a published post changes nothing."""
    if not post.is_published:
        post.published_date = timezone.now()
        post.save(update_fields=["published_date", "updated_date"])
    return post


@transaction.atomic
def post_delete(*, post: Post) -> None:
    """Delete a post and its comments."""
    post.delete()


@transaction.atomic
def comment_create(*, post: Post, author_name: str, text: str) -> Comment:
    """Add a comment that waits for moderation (so no public page changes yet)."""
    return Comment.objects.create(post=post, author_name=author_name, text=text)


@transaction.atomic
def comment_approve(*, comment: Comment) -> Comment:
    """Show a comment to readers."""
    if not comment.approved:
        comment.approved = True
        comment.save(update_fields=["approved"])
    return comment


@transaction.atomic
def comment_remove(*, comment: Comment) -> None:
    """Delete a comment."""
    comment.delete()
