"""The moderation queue page, and what the blog's tasks decide, run in this process (the
worker process itself: blog/tests/test_background.py)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from blog import services
from blog.tasks import (
    NotLiveYet,
    announce_post_live,
    send_password_reset,
    tell_author_of_pending_comments,
)
from blog.tests.factories import CommentFactory, PostFactory
from ops.mail import MailBusy, deliver_mail, one_line, queue_mail
from ops.models import OutgoingMail

pytestmark = pytest.mark.django_db


def _queued(task) -> list[DBTaskResult]:
    return list(
        DBTaskResult.objects.filter(status=TaskResultStatus.READY, task_path=task.module_path)
    )


# --- the queue page ----------------------------------------------------------------------------
def test_the_queue_lists_every_pending_comment_on_the_users_posts_only(client, author, other_user):
    mine = PostFactory(author=author, title="Mine")
    theirs = PostFactory(author=other_user, title="Theirs")
    CommentFactory(post=mine, approved=False, author_name="Waiting")
    CommentFactory(post=mine, approved=True, author_name="Shown")
    CommentFactory(post=theirs, approved=False, author_name="Elsewhere")
    client.force_login(author)
    page = client.get("/moderation/").content.decode()
    assert "Waiting" in page and "Shown" not in page and "Elsewhere" not in page
    assert "1 comment on your posts is waiting" in page
    # The header tells how many wait, on every page for this user.
    assert '<span class="badge">1<span class="visually-hidden"> awaiting approval' in page


def test_staff_see_every_pending_comment(client, author, staff):
    CommentFactory(post=PostFactory(author=author), approved=False, author_name="Waiting")
    client.force_login(staff)
    assert "Waiting" in client.get("/moderation/").content.decode()


def test_approving_or_removing_from_the_queue_comes_back_to_the_queue(client, author):
    post = PostFactory(author=author)
    first, second = CommentFactory.create_batch(2, post=post, approved=False)
    client.force_login(author)
    back = client.post(f"/comment/{first.pk}/approve/", {"next": "/moderation/"})
    assert back["Location"] == "/moderation/"
    back = client.post(f"/comment/{second.pk}/remove/", {"next": "/moderation/"})
    assert back["Location"] == "/moderation/"
    # Any other `next` is ignored: the post, as before.
    third = CommentFactory(post=post, approved=False)
    back = client.post(f"/comment/{third.pk}/approve/", {"next": "https://evil.example/"})
    assert back["Location"] == post.get_absolute_url()
    assert "No comments are waiting" in client.get("/moderation/").content.decode()


# --- telling the author ----------------------------------------------------------------------
def test_comments_arriving_together_queue_one_mail_task_per_author(author, other_user):
    mine, theirs = PostFactory(author=author), PostFactory(author=other_user)
    for n in range(5):
        services.comment_create(post=mine, author_name=f"R{n}", text="hi")
    services.comment_create(post=theirs, author_name="S", text="hi")
    queued = _queued(tell_author_of_pending_comments)
    assert sorted(t.args_kwargs["args"][0] for t in queued) == sorted([author.pk, other_user.pk])
    [mine_task] = [t for t in queued if t.args_kwargs["args"] == [author.pk]]
    assert mine_task.run_after > timezone.now() + timedelta(seconds=50)  # MODERATION_MAIL_DELAY


def test_the_mail_lists_the_waiting_comments_and_marks_them_told(author, settings):
    settings.SITE_URL = "https://blog.example.com"
    post = PostFactory(author=author, title="A\r\nBcc: x@example.com")
    for n in range(3):
        CommentFactory(post=post, approved=False, author_name=f"Reader\r\n{n}", text=f"Text {n}")
    CommentFactory(post=post, approved=True)
    assert tell_author_of_pending_comments.call(author.pk) == "told of 3"
    [queued] = OutgoingMail.objects.all()
    assert queued.to == author.email
    assert queued.subject == "3 comments awaiting your approval"
    assert "Reader 0 on “A Bcc: x@example.com”" in queued.body
    assert "https://blog.example.com/moderation/" in queued.body
    # Run again: nothing new to tell, so no second mail.
    assert tell_author_of_pending_comments.call(author.pk) == "too soon after the last mail: later"
    assert OutgoingMail.objects.count() == 1


def test_comments_after_a_mail_wait_for_the_interval_then_go_in_one_more(author, settings):
    post = PostFactory(author=author)
    CommentFactory(post=post, approved=False)
    tell_author_of_pending_comments.call(author.pk)
    first = OutgoingMail.objects.get()
    for _ in range(3):
        services.comment_create(post=post, author_name="Later", text="again")
    # The task queued by those comments runs, finds it too soon, and moves to the interval's end.
    DBTaskResult.objects.all().delete()
    assert tell_author_of_pending_comments.call(author.pk).startswith("too soon")
    [later] = _queued(tell_author_of_pending_comments)
    interval = timedelta(seconds=settings.MODERATION_MAIL_INTERVAL)
    assert later.run_after == first.created_at + interval
    # At the interval's end: one more mail, about the three.
    OutgoingMail.objects.update(created_at=timezone.now() - interval)
    assert tell_author_of_pending_comments.call(author.pk) == "told of 3"
    assert OutgoingMail.objects.count() == 2


def test_no_address_no_mail(author):
    author.email = ""
    author.save()
    CommentFactory(post=PostFactory(author=author), approved=False)
    assert tell_author_of_pending_comments.call(author.pk) == "no address to tell"
    assert not OutgoingMail.objects.exists()


# --- the outbox ----------------------------------------------------------------------------------
def test_a_mail_is_queued_once_per_key_and_delivered_once():
    assert queue_mail(key="k", to="a@example.com", subject="Hi\r\nBcc: b@example.com", body="x")
    assert not queue_mail(key="k", to="a@example.com", subject="Again", body="y")
    queued = OutgoingMail.objects.get()
    assert queued.subject == "Hi Bcc: b@example.com"
    assert deliver_mail.call(queued.pk) == "sent"
    assert deliver_mail.call(queued.pk) == "sent before"
    [sent] = mail.outbox
    assert sent.to == ["a@example.com"] and sent.extra_headers["Message-ID"].startswith("<")
    queued.refresh_from_db()
    assert queued.sent_at is not None and queued.body == ""


def test_a_mail_another_worker_is_sending_is_left_to_it():
    queue_mail(key="k", to="a@example.com", subject="Hi", body="x")
    OutgoingMail.objects.update(sending_until=timezone.now() + timedelta(seconds=30))
    with pytest.raises(MailBusy):
        deliver_mail.call(OutgoingMail.objects.get().pk)
    assert mail.outbox == []


def test_one_line_keeps_text_on_one_line():
    assert one_line("a\r\nb\tc\x00d  e") == "a b c d e"
    assert len(one_line("x" * 500, 50)) == 50


# --- go-live ---------------------------------------------------------------------------------
def test_scheduling_a_post_queues_its_notice_for_its_moment(author):
    at = timezone.now() + timedelta(hours=2)
    post = PostFactory(author=author, published_date=at)
    [notice] = _queued(announce_post_live)
    assert notice.run_after == at
    assert notice.args_kwargs["args"] == [post.pk, at.isoformat()]
    PostFactory(author=author)  # published now: nothing to announce
    PostFactory(author=author, draft=True)
    assert len(_queued(announce_post_live)) == 1


def test_the_notice_of_a_moved_or_early_post_sends_nothing(author):
    at = timezone.now() + timedelta(hours=2)
    post = PostFactory(author=author, published_date=at)
    with pytest.raises(NotLiveYet):
        announce_post_live.call(post.pk, at.isoformat())
    assert announce_post_live.call(post.pk, "2020-01-01T00:00:00+00:00") == "rescheduled"
    post.published_date = None
    post.save()
    assert announce_post_live.call(post.pk, at.isoformat()) == "deleted or unpublished"
    assert not OutgoingMail.objects.exists()


# --- password reset --------------------------------------------------------------------------
def test_reset_mail_goes_to_known_addresses_only_and_once_per_request(author):
    assert send_password_reset.call(author.email.upper(), "r1") == 1
    assert send_password_reset.call(author.email, "r1") == 0  # a retry: already queued
    assert send_password_reset.call("nobody@example.com", "r2") == 0
    [queued] = OutgoingMail.objects.all()
    assert queued.to == author.email and "/accounts/reset/" in queued.body


def test_reset_requests_are_limited_per_address(client, settings):
    settings.PASSWORD_RESET_RATE_LIMIT = 2
    answers = [
        client.post("/accounts/password-reset/", {"email": "x@example.com"}).status_code
        for _ in range(3)
    ]
    assert answers == [302, 302, 429]
    assert len(_queued(send_password_reset)) == 2
    page = client.post("/accounts/password-reset/", {"email": "x@example.com"})
    assert "Too many password reset requests" in page.content.decode()


def test_the_header_count_asks_nothing_of_a_database_believed_down(
    rf, author, django_assert_num_queries
):
    from blog.context_processors import comments_awaiting
    from ops import health

    CommentFactory(post=PostFactory(author=author), approved=False)
    request = rf.get("/")
    request.user = author
    assert comments_awaiting(request)["comments_awaiting"] == 1
    health.saw("database", False)  # as the 503 page's request reported it
    with django_assert_num_queries(0):
        assert comments_awaiting(request)["comments_awaiting"] == 0
