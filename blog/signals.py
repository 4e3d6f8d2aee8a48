"""Retire cached public pages once a change to a post, a comment, an image or an author's
profile is committed; queue the go-live notice of a scheduled post, whoever saved it (a form
or the admin)."""

from django.contrib import messages
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from blog.models import AuthorProfile, Comment, Post, PostImage
from blog.tasks import schedule_go_live_notice
from ops.pagecache import invalidate_public_pages


@receiver([post_save, post_delete], sender=Post)
@receiver([post_save, post_delete], sender=Comment)
@receiver([post_save, post_delete], sender=PostImage)
@receiver([post_save, post_delete], sender=AuthorProfile)
def content_changed(sender, instance, **kwargs) -> None:
    # A comment waiting for moderation changes no public page.
    if sender is Comment and not instance.approved:
        return
    transaction.on_commit(invalidate_public_pages)


@receiver(m2m_changed, sender=Post.tags.through)
def tags_changed(sender, instance, action, **kwargs) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        transaction.on_commit(invalidate_public_pages)


@receiver(post_save, sender=Post)
def post_saved(sender, instance, **kwargs) -> None:
    schedule_go_live_notice(instance)


@receiver(user_logged_in)
def welcome(sender, request, user, **kwargs) -> None:
    if request is not None and hasattr(request, "_messages"):
        messages.success(request, f"Logged in as {user.get_username()}.")


@receiver(user_logged_out)
def goodbye(sender, request, user, **kwargs) -> None:
    if request is not None and hasattr(request, "_messages"):
        messages.info(request, "You have logged out.")
