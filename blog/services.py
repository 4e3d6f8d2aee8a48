"""Every write the blog makes, each in one transaction.

Cached public pages are retired by blog.signals whenever a post or comment changes, so the
admin and these functions invalidate alike.

What a form creates, it creates once per creation token (blog.forms.CreationTokenField): the
functions that create answer (the object, whether this call created it).
"""

import contextlib
from uuid import UUID

from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.text import slugify

from blog import media
from blog.images import PreparedImage
from blog.models import Comment, Post, PostImage, Tag
from blog.tasks import schedule_moderation_mail


def post_create(
    *,
    author,
    title: str,
    body: str,
    creation_token: UUID | None = None,
    image: PreparedImage | None = None,
    image_alt: str = "",
    tags: list[str] = (),
) -> tuple[Post, bool]:
    """Create a draft, with its featured image if one was sent, or find the one the same
    form created before. Raises media.StorageUnavailable, having saved nothing, if the
    image cannot be stored."""
    if image is None and not tags:
        return _create_once(author.posts, creation_token, title=title, body=body)
    folder = media.store(image) if image else None
    with _discarded_unless_recorded(folder) as recorded, transaction.atomic():
        post, created = _create_once(author.posts, creation_token, title=title, body=body)
        if created and tags:
            _set_tags(post, tags)
        if created and image:
            media.record(post, image, folder, alt=image_alt, role=PostImage.FEATURED)
            recorded()
    return post, created


def post_update(
    *,
    post: Post,
    title: str,
    body: str,
    image: PreparedImage | None = None,
    image_alt: str = "",
    remove_image: bool = False,
    tags: list[str] | None = None,
) -> Post:
    """Change a post's text and featured image; a published post stays published. Raises
    media.StorageUnavailable, having changed nothing, if a new image cannot be stored."""
    folder = media.store(image) if image else None
    with _discarded_unless_recorded(folder) as recorded, transaction.atomic():
        featured = post.images.filter(role=PostImage.FEATURED).select_for_update().first()
        if featured and (image or remove_image):
            media.forget([featured])
        elif featured and image_alt and image_alt != featured.alt:
            featured.alt = image_alt
            featured.save(update_fields=["alt"])
        if image:
            media.record(post, image, folder, alt=image_alt, role=PostImage.FEATURED)
            recorded()
        post.title = title
        post.body = body
        post.save()
        if tags is not None:
            _set_tags(post, tags)
    return post


def _set_tags(post: Post, names: list[str]) -> None:
    """Give the post exactly these tags, making the ones that do not exist yet. A tag that
    another sending makes at the same moment is found rather than made twice."""
    tags = []
    for name in names:
        slug = slugify(name)
        tag = Tag.objects.filter(slug=slug).first()
        if tag is None:
            try:
                with transaction.atomic():
                    tag = Tag.objects.create(name=name, slug=slug)
            except IntegrityError:
                tag = Tag.objects.get(slug=slug)
        tags.append(tag)
    post.tags.set(tags)


def body_image_add(*, post: Post, image: PreparedImage, alt: str) -> PostImage:
    """Store an image for the post's body; the author then refers to it in Markdown.
    Raises media.StorageUnavailable, having saved nothing, if it cannot be stored."""
    folder = media.store(image)
    with _discarded_unless_recorded(folder) as recorded, transaction.atomic():
        added = media.record(post, image, folder, alt=alt, role=PostImage.BODY)
        recorded()
    return added


@transaction.atomic
def body_image_remove(*, image: PostImage) -> None:
    """Delete a body image (its objects go after the commit); the post's body no longer
    gives it a size, and a reference left in it shows the alt text."""
    media.forget([image])
    post = Post.objects.select_for_update().get(pk=image.post_id)
    post.save(update_fields=["body_html", "summary"])


@contextlib.contextmanager
def _discarded_unless_recorded(folder: str | None):
    """Delete the stored image in `folder` unless the block calls `recorded()` and then
    ends without an error: no object outlives a failed save."""
    done = []
    try:
        yield lambda: done.append(True)
    except BaseException:
        media.discard(folder)
        raise
    if not done:
        media.discard(folder)


@transaction.atomic
def post_publish(*, post: Post, at=None) -> Post:
    """Publish a draft or a scheduled post now, or schedule it for `at` (a moment to come:
    readers see it from then on, blog.tasks tells its author). Publishing a published post
    changes nothing."""
    if post.is_published:
        return post
    now = timezone.now()
    post.published_date = at if at is not None and at > now else now
    post.save(update_fields=["published_date", "updated_date"])
    return post


@transaction.atomic
def post_unpublish(*, post: Post) -> Post:
    """Take a published or scheduled post back to the author's drafts."""
    if post.published_date is not None:
        post.published_date = None
        post.save(update_fields=["published_date", "updated_date"])
    return post


@transaction.atomic
def post_delete(*, post: Post) -> None:
    """Delete a post, its comments and its images (their objects go after the commit)."""
    media.forget(list(post.images.all()))
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
