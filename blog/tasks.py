"""The blog's background work, run by the worker (ops.worker), never by a request.

Each task is idempotent: run twice (a retry, a worker killed halfway), it queues each mail once,
because every mail has a key that says what it is about (ops.mail.queue_mail).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.db.models import Max, Prefetch, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tasks import task
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from blog.markdown import RENDERING
from blog.models import Comment, Post, PostImage
from ops.mail import one_line, queue_mail, site_url
from ops.models import OutgoingMail
from ops.pagecache import invalidate_public_pages

MAIL_LISTS_AT_MOST = 20  # comments shown in one moderation mail; the queue page has the rest


def _mail(user, *, key: str, subject: str, template: str, **context) -> bool:
    """Queue one mail to `user` about `key` (ops.mail.queue_mail), its body `template`
    rendered with `user` and `context`: whether this call queued it."""
    body = render_to_string(template, {"user": user, **context})
    return queue_mail(key=key, to=user.email, subject=subject, body=body)


class NotLiveYet(Exception):
    """The worker's clock is behind the moment the post goes live: retried shortly."""


# --- comments awaiting approval ----------------------------------------------------------------
def schedule_moderation_mail(author_id: int, *, at: datetime | None = None) -> bool:
    """Make sure a mail about the author's comments awaiting approval is on its way: enqueue
    one for MODERATION_MAIL_DELAY from now, unless one is queued already (whether it did).

    Call it inside the transaction that adds the comment: the author's row is locked until
    then, so that two comments arriving together do not queue two mails.
    """
    list(get_user_model().objects.select_for_update().filter(pk=author_id).values_list("pk"))
    queued = DBTaskResult.objects.filter(
        status=TaskResultStatus.READY, task_path=tell_author_of_pending_comments.module_path
    ).values_list("args_kwargs", flat=True)
    if any(args_kwargs["args"] == [author_id] for args_kwargs in queued):
        return False
    when = at or timezone.now() + timedelta(seconds=settings.MODERATION_MAIL_DELAY)
    tell_author_of_pending_comments.using(run_after=when).enqueue(author_id)
    return True


@task()
def tell_author_of_pending_comments(author_id: int) -> str:
    """One mail to the author about every comment awaiting approval they have not been told
    of, at most one such mail per MODERATION_MAIL_INTERVAL: a hundred comments in an hour are
    a few mails, not a hundred."""
    interval = timedelta(seconds=settings.MODERATION_MAIL_INTERVAL)
    key = f"moderation:{author_id}:"
    with transaction.atomic():
        author = get_user_model().objects.select_for_update().filter(pk=author_id).first()
        if author is None or not author.email:
            return "no address to tell"
        last = OutgoingMail.objects.filter(key__startswith=key).aggregate(at=Max("created_at"))
        now = timezone.now()
        if last["at"] is not None and now < last["at"] + interval:
            schedule_moderation_mail(author_id, at=last["at"] + interval)
            return "too soon after the last mail: later"
        pending = list(
            Comment.objects.awaiting_moderation()
            .filter(post__author_id=author_id, author_told_at=None)
            .select_related("post")
            .order_by("created_date", "pk")
        )
        if not pending:
            return "nothing new"
        count = len(pending)
        _mail(
            author,
            key=f"{key}{pending[-1].pk}",
            subject=f"{count} comment{'s' if count != 1 else ''} awaiting your approval",
            template="blog/mail/moderation.txt",
            count=count,
            shown=[
                {
                    "name": one_line(c.author_name, 80),
                    "post": one_line(c.post.title),
                    "text": one_line(c.text, 200),
                    "at": c.created_date,
                }
                for c in pending[:MAIL_LISTS_AT_MOST]
            ],
            more=max(0, count - MAIL_LISTS_AT_MOST),
            queue_url=site_url() + reverse("moderation_queue"),
        )
        Comment.objects.filter(pk__in=[c.pk for c in pending]).update(author_told_at=now)
    return f"told of {count}"


# --- a scheduled post goes live ------------------------------------------------------------------
def schedule_go_live_notice(post: Post) -> None:
    """When `post` is scheduled, queue the notice for its moment (in the caller's transaction).

    Every save of a scheduled post queues one; at the moment, only those that still match its
    date do anything, and the mail's key makes them one mail.
    """
    if post.is_scheduled:
        announce_post_live.using(run_after=post.published_date).enqueue(
            post.pk, post.published_date.isoformat()
        )


@task()
def announce_post_live(post_id: int, published_at: str) -> str:
    """The moment a scheduled post goes live: pages show it now (not after the cache's
    freshness) and its author is told."""
    post = Post.objects.select_related("author").filter(pk=post_id).first()
    if post is None or post.published_date is None:
        return "deleted or unpublished"
    if post.published_date.isoformat() != published_at:
        return "rescheduled"
    if not post.is_published:
        raise NotLiveYet(f"post {post_id} goes live at {published_at}")
    invalidate_public_pages()
    author = post.author
    if not author.email:
        return "live; no address to tell"
    title = one_line(post.title)
    _mail(
        author,
        key=f"live:{post.pk}:{published_at}",
        subject=f"Your post “{title}” is live",
        template="blog/mail/post_live.txt",
        title=title,
        post_url=site_url() + post.get_absolute_url(),
    )
    return "live; author told"


# --- password reset ------------------------------------------------------------------------------
@task()
def send_password_reset(email: str, request_key: str) -> int:
    """Mail a reset link to each active account with this address (usually one, often none).

    The request path enqueues this for any address, known or not, so that its answer and its
    timing say nothing about which addresses have accounts. `request_key` makes a retry of
    this task queue no second mail.
    """
    sent = 0
    for user in PasswordResetForm().get_users(email):
        link = site_url() + reverse(
            "password_reset_confirm",
            kwargs={
                "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": default_token_generator.make_token(user),
            },
        )
        sent += _mail(
            user,
            key=f"password-reset:{request_key}:{user.pk}",
            subject="Reset your kubeblog password",
            template="registration/password_reset_email.txt",
            link=link,
            minutes=settings.PASSWORD_RESET_TIMEOUT // 60,
        )
    return sent


# --- stored HTML from an older renderer -------------------------------------------------------
RENDER_AGAIN_BATCH = 20  # rows locked at once: a few hundred milliseconds of rendering
RENDER_AGAIN_SECONDS = 60  # then the task makes way for others and queues itself again


def rendered_by_an_older_release(model):
    """Posts or comments whose stored HTML an older blog.markdown.RENDERING made."""
    return model.objects.filter(Q(rendering__lt=RENDERING) | Q(rendering=None))


def queue_render_again() -> int:
    """Queue render_again unless it is queued already; how many rows wait for it
    (housekeeping's step)."""
    waiting = sum(rendered_by_an_older_release(m).count() for m in (Post, Comment))
    queued = DBTaskResult.objects.filter(
        status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING],
        task_path=render_again.module_path,
    ).exists()
    if waiting and not queued:
        render_again.enqueue()
    return waiting


@task()
def render_again() -> str:
    """Render again what an older release rendered (headings from <h1>, no highlighting, ...),
    so that a post looks as if written today without its author saving it.

    A batch at a time, each in a short transaction of its own: rows an author is saving right
    now are skipped (their save renders them). Only the HTML and summary change, never
    updated_date. The public pages are retired once, at the end.
    """
    until = time.monotonic() + RENDER_AGAIN_SECONDS
    done, more = 0, False
    for model in (Post, Comment):
        while not more:
            count = _render_a_batch_again(model)
            done += count
            if count < RENDER_AGAIN_BATCH:
                break
            more = time.monotonic() >= until
    if done:
        invalidate_public_pages()
    if more:
        render_again.enqueue()  # the rest after whatever else waits in the queue
        return f"rendered {done} again; the rest next"
    return f"rendered {done} again"


def _render_a_batch_again(model) -> int:
    rows = rendered_by_an_older_release(model).select_for_update(skip_locked=True, of=("self",))
    if model is Post:
        rows = rows.prefetch_related(
            Prefetch("images", PostImage.objects.filter(role=PostImage.BODY), to_attr="body_images")
        )
    fields = ["body_html", "summary", "rendering"] if model is Post else ["text_html", "rendering"]
    with transaction.atomic():
        batch = list(rows.order_by("pk")[:RENDER_AGAIN_BATCH])
        for row in batch:
            if model is Post:
                row.render(row.body_images)
            else:
                row.render()
            model.objects.filter(pk=row.pk).update(**{f: getattr(row, f) for f in fields})
    return len(batch)
