"""Every write the blog makes, each in one transaction.

Cached public pages are retired by blog.signals whenever a post or comment changes, so the
admin and these functions invalidate alike.

What a form creates, it creates once per creation token (blog.forms.CreationTokenField): the
functions that create answer (the object, whether this call created it).
"""

from uuid import UUID

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from blog.models import Comment, Post
from blog.tasks import schedule_moderation_mail


def post_create(
    *, author, title: str, body: str, creation_token: UUID | None = None
) -> tuple[Post, bool]:
    """Create a draft, or find the one the same form created before."""
    return _create_once(author.posts, creation_token, title=title, body=body)


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
def comment_create(
    *, post: Post, author_name: str, text: str, creation_token: UUID | None = None
) -> tuple[Comment, bool]:
    """Add a comment that waits for moderation (so no public page changes yet), or find the
    one the same form added before. The post's author will be told, by mail, in a batch."""
    comment, created = _create_once(
        post.comments, creation_token, author_name=author_name, text=text
    )
    if created:
        schedule_moderation_mail(post.author_id)
    return comment, created


def comment_sent_before(*, post: Post, creation_token: UUID | None) -> Comment | None:
    """The comment on `post` that the same form added before, if any."""
    return _created_with(post.comments, creation_token)


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


def _create_once(
    related: models.Manager, creation_token: UUID | None, **fields
) -> tuple[models.Model, bool]:
    """Create an object through `related` (an author's posts, a post's comments), unless the
    same creation token already made one there: (the object, whether this call created it).

    The unique index on (owner, creation_token) decides, so two sendings racing each other
    cannot both create: the second INSERT waits for the first to commit, then fails, and the
    lookup finds the first one's object. The atomic block is the transaction, or a savepoint
    inside the caller's, so the failed INSERT leaves the caller's transaction usable.
    """
    try:
        with transaction.atomic():
            return related.create(creation_token=creation_token, **fields), True
    except IntegrityError:
        earlier = _created_with(related, creation_token)
        if earlier is None:
            raise  # another constraint failed
        return earlier, False


def _created_with(related: models.Manager, creation_token: UUID | None) -> models.Model | None:
    """The object that `creation_token` created through `related`, if any."""
    if creation_token is None:
        return None
    return related.filter(creation_token=creation_token).first()
