"""Mail leaves only from tasks, never from a request: a request queues it, a worker sends it.

`queue_mail` stores the mail and enqueues its delivery in the caller's transaction, so a mail
about a change that rolls back is never sent. `deliver_mail` is retried with back-off while
the relay is down (ops.worker) and sends each mail once: it marks the mail sent as soon as the
relay has taken it. The one window for a second copy is a worker killed between the relay's
"250 OK" and that mark being committed; both copies then carry the same Message-ID.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Now
from django_tasks import task

from ops.models import OutgoingMail

logger = logging.getLogger("ops.mail")


def _first_host() -> str:
    hosts = [h.lstrip(".") for h in settings.ALLOWED_HOSTS if h not in ("*", "")]
    return hosts[0] if hosts else "localhost"


def site_url() -> str:
    """The site's address for links in mail: SITE_URL, or https:// and the first host."""
    return (settings.SITE_URL or f"https://{_first_host()}").rstrip("/")


def from_address() -> str:
    return settings.DEFAULT_FROM_EMAIL or f"noreply@{_first_host()}"


def one_line(text: str, limit: int = 120) -> str:
    """Text fit for a subject or a one-line mention: no line breaks, no control characters."""
    words = "".join(ch if ch.isprintable() else " " for ch in text).split()
    line = " ".join(words)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def queue_mail(*, key: str, to: str, subject: str, body: str) -> bool:
    """Queue one mail about `key`, unless one was queued already: whether this call did.

    It joins the caller's transaction: committed together, or not at all.
    """
    with transaction.atomic():
        mail, created = OutgoingMail.objects.get_or_create(
            key=key, defaults={"to": to, "subject": one_line(subject, 200), "body": body}
        )
        if created:
            deliver_mail.enqueue(mail.pk)
    return created


@task()
def deliver_mail(mail_id: int) -> str:
    """Hand one queued mail to the relay; a mail already sent is not sent again.

    A lease on the mail (`sending_until`) keeps two workers from sending it at once, for
    instance when a worker thought lost is still talking to the relay. It lasts the task time
    limit, which no worker outlives (ops.worker).
    """
    unsent = OutgoingMail.objects.filter(pk=mail_id, sent_at=None)
    if not unsent.exists():
        return "sent before"
    lease = Now() + timedelta(seconds=settings.TASK_TIME_LIMIT)
    free = Q(sending_until=None) | Q(sending_until__lt=Now())
    if not unsent.filter(free).update(sending_until=lease):
        raise MailBusy(f"mail {mail_id} is being sent by another worker")
    mail = unsent.get()
    domain = from_address().rpartition("@")[2].strip("> ") or "localhost"
    message = EmailMessage(
        subject=mail.subject,
        body=mail.body,
        from_email=from_address(),
        to=[mail.to],
        headers={"Message-ID": f"<{mail.message_id}@{domain}>"},
    )
    try:
        message.send()
    except Exception:
        unsent.update(sending_until=None)  # let the next attempt have it at once
        raise  # the worker retries later
    OutgoingMail.objects.filter(pk=mail.pk, sent_at=None).update(sent_at=Now(), body="")
    logger.info("mail sent", extra={"mail_key": mail.key, "message_id": mail.message_id})
    return "sent"


class MailBusy(Exception):
    """Another worker holds the mail's lease: try again later (then it is sent, or sent)."""


class LogBackend(BaseEmailBackend):
    """EMAIL_HOST=console: each mail is one log line (recipients, subject, body), no relay."""

    def send_messages(self, email_messages) -> int:
        for message in email_messages:
            logger.warning(
                "mail not sent (EMAIL_HOST=console): %s",
                message.subject,
                extra={"mail_to": message.recipients(), "mail_body": message.body},
            )
        return len(email_messages)
