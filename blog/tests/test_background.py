"""What the worker does for the blog, end to end: a real worker process, the test run's
PostgreSQL and a real SMTP server that receives and parses each mail."""

import re
import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from blog import services
from blog.models import Comment
from blog.tasks import send_password_reset
from blog.tests.factories import PASSWORD, PostFactory
from harness.worker import wait_until
from ops.models import OutgoingMail

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# The moderation mail goes MODERATION_MAIL_DELAY after the first comment; the bounds below add
# the worker's poll and a busy machine's slack. A bound on a hang, never a speed target.
DELAY = 1
WITHIN = DELAY + 15


@pytest.fixture(autouse=True)
def _mail_soon(settings):
    """Comments are enqueued by this process: their mail goes DELAY seconds later."""
    settings.MODERATION_MAIL_DELAY = DELAY


def _comment(client: Client, post, name: str = "Rita", text: str = "Nice post.") -> int:
    response = client.post(f"/post/{post.pk}/comment/", {"author_name": name, "text": text})
    assert response.status_code == 302
    return response


def _all_tasks_done() -> bool:
    pending = (TaskResultStatus.READY, TaskResultStatus.RUNNING)
    return not DBTaskResult.objects.filter(
        status__in=pending, run_after__lte=timezone.now()
    ).exists()


def test_a_comment_tells_its_author_in_exactly_one_mail(author, worker, smtp, client):
    post = PostFactory(author=author, title="On queues")
    started = time.monotonic()
    with worker():
        _comment(client, post, "Rita", "Queues are *great*.")
        [mail] = smtp.wait_for(1, WITHIN)
        took = time.monotonic() - started
        time.sleep(2)  # nothing else follows
    assert len(smtp.messages) == 1
    assert smtp.envelopes == [(smtp.envelopes[0][0], [author.email])]
    assert mail["To"] == author.email
    assert mail["Subject"] == "1 comment awaiting your approval"
    body = mail.get_content()
    assert "Rita on “On queues”" in body
    assert "Queues are *great*." in body
    assert "http://testserver/moderation/" in body
    assert Comment.objects.get().author_told_at is not None
    print(f"\ncomment to moderation mail received: {took:.2f} s (MODERATION_MAIL_DELAY={DELAY})")


def test_fifty_comments_make_one_or_two_mails_that_mention_each_once(
    author, worker, smtp, settings
):
    post = PostFactory(author=author)
    settings.MODERATION_MAIL_DELAY = 2
    interval = 6
    with worker(MODERATION_MAIL_INTERVAL=str(interval)):
        for n in range(50):
            services.comment_create(post=post, author_name=f"Reader {n}", text=f"Comment {n}")
        assert wait_until(lambda: not Comment.objects.filter(author_told_at=None).exists(), 40)
        time.sleep(interval + 2)  # a second mail could only come one interval after the first
    mails = smtp.messages
    assert 1 <= len(mails) <= 2, [m["Subject"] for m in mails]
    counts = [int(m["Subject"].split()[0]) for m in mails]
    assert sum(counts) == 50
    # One task per author waits at a time, however many comments arrive.
    assert (
        DBTaskResult.objects.filter(task_path__endswith="tell_author_of_pending_comments").count()
        <= 3
    )


def test_a_name_with_a_header_injection_never_reaches_the_headers(author, worker, smtp, client):
    post = PostFactory(author=author, title="Evil\r\nBcc: victim@example.com")
    with worker():
        _comment(client, post, "Eve\r\nBcc: victim@example.com\r\nX-Evil: 1", "hello")
        [mail] = smtp.wait_for(1, WITHIN)
    assert smtp.envelopes[0][1] == [author.email]
    assert mail["Bcc"] is None and mail["X-Evil"] is None
    assert "victim@example.com" not in str(mail["To"]) + str(mail["Cc"])
    # The name and the title are shown on one line each, as text.
    assert "Eve Bcc: victim@example.com X-Evil: 1 on “Evil Bcc: victim@example.com”" in (
        mail.get_content()
    )


def test_a_scheduled_post_going_live_tells_its_author_at_that_moment(author, worker, smtp):
    with worker():
        at = timezone.now() + timedelta(seconds=4)
        post = PostFactory(author=author, title="Later\nBcc: x@example.com", published_date=at)
        time.sleep(2)
        assert smtp.messages == []  # not before its moment
        [mail] = smtp.wait_for(1, 20)
        arrived = timezone.now()
    assert arrived >= at
    # (A long encoded subject is folded after "Subject:"; readers drop the space, as here.)
    assert mail["Subject"].strip() == "Your post “Later Bcc: x@example.com” is live"
    assert "http://testserver" + post.get_absolute_url() in mail.get_content()
    print(f"\ngo-live mail {(arrived - at).total_seconds():.2f} s after the post's moment")


def test_a_rescheduled_post_is_announced_once_at_its_new_moment(author, worker, smtp):
    post = PostFactory(author=author, published_date=timezone.now() + timedelta(seconds=2))
    post.published_date = timezone.now() + timedelta(seconds=3)
    post.save()
    post.title = "Edited while scheduled"
    post.save()
    with worker():
        smtp.wait_for(1, 20)
        assert wait_until(_all_tasks_done, 20)
        time.sleep(1)
    assert [m["Subject"].strip() for m in smtp.messages] == [
        "Your post “Edited while scheduled” is live"
    ]


def test_password_reset_end_to_end(author, worker, smtp, client):
    with worker():
        response = client.post("/accounts/password-reset/", {"email": author.email.upper()})
        assert response.status_code == 302
        assert response["Location"] == "/accounts/password-reset/sent/"
        [mail] = smtp.wait_for(1, 20)
    assert mail["To"] == author.email
    [link] = re.findall(r"http://testserver(/accounts/reset/\S+/)", mail.get_content())
    # The link works: it leads to the form for a new password.
    page = client.get(link, follow=True)
    assert "Choose a new password" in page.content.decode()
    form_url = page.redirect_chain[-1][0]
    done = client.post(
        form_url,
        {"new_password1": "a new long passphrase", "new_password2": "a new long passphrase"},
    )
    assert done.status_code == 302 and done["Location"] == "/accounts/reset/done/"
    changed = get_user_model().objects.get(pk=author.pk)
    assert changed.check_password("a new long passphrase")
    assert not changed.check_password(PASSWORD)
    # Once: the same link again is refused, clearly.
    again = Client().get(link, follow=True).content.decode()
    assert "This link no longer works" in again
    assert "used already or has expired" in again
    # The mail's body was dropped once it was sent: the database keeps no live link.
    assert OutgoingMail.objects.get().body == ""


def test_an_expired_reset_link_is_refused(author, worker, smtp, client):
    with worker():
        client.post("/accounts/password-reset/", {"email": author.email})
        [mail] = smtp.wait_for(1, 20)
    [link] = re.findall(r"http://testserver(/accounts/reset/\S+/)", mail.get_content())
    with override_settings(PASSWORD_RESET_TIMEOUT=1):
        time.sleep(2.1)
        page = client.get(link, follow=True).content.decode()
    assert "This link no longer works" in page
    assert get_user_model().objects.get(pk=author.pk).check_password(PASSWORD)


def test_an_unknown_address_gets_the_same_answer_and_no_mail(author, worker, smtp):
    known, unknown = Client(), Client()
    with worker():
        to_known = known.post("/accounts/password-reset/", {"email": author.email}, follow=True)
        to_unknown = unknown.post(
            "/accounts/password-reset/", {"email": "nobody@example.com"}, follow=True
        )
        smtp.wait_for(1, 20)
        assert wait_until(_all_tasks_done, 20)
        time.sleep(1)
    assert to_known.status_code == to_unknown.status_code == 200
    assert to_known.redirect_chain == to_unknown.redirect_chain
    assert _main(to_known) == _main(to_unknown)
    assert [m["To"] for m in smtp.messages] == [author.email]
    # Both requests queued the same task; the unknown address's run sent nothing.
    assert send_password_reset.name in {
        t.task_path.rsplit(".", 1)[1] for t in DBTaskResult.objects.all()
    }
    assert DBTaskResult.objects.filter(task_path__endswith="send_password_reset").count() == 2


def _main(response) -> str:
    html = response.content.decode()
    return html[html.index("<main") : html.index("</main>")]


def test_a_relay_that_is_down_delays_mail_and_never_a_request(author, worker, smtp, client):
    post = PostFactory(author=author)
    smtp.stop()
    with worker(EMAIL_TIMEOUT="2") as process:
        started = time.monotonic()
        _comment(client, post)
        answered = time.monotonic() - started
        assert wait_until(
            lambda: any("task failed (attempt" in line["message"] for line in process.lines()), 20
        )
        assert smtp.messages == []
        smtp.start()  # the relay comes back, on the same address
        [mail] = smtp.wait_for(1, 30)
        time.sleep(1)
    assert answered < 2  # the request sent no mail: a bound on a hang, not a speed target
    assert len(smtp.messages) == 1
    assert mail["Subject"] == "1 comment awaiting your approval"
    print(f"\nrelay down: the comment was answered in {answered:.3f} s; mail sent once it was back")
