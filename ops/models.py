"""What the worker tier keeps in PostgreSQL beside django-tasks-db's queue."""

import uuid

from django.db import models
from django.utils import timezone


class WorkerBeat(models.Model):
    """A running worker process says every few seconds that it is alive (ops.worker); a task
    still marked running by a worker that stopped beating goes back to the queue."""

    worker_id = models.CharField(primary_key=True, max_length=64)
    host = models.CharField(max_length=253)
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.worker_id} on {self.host}"


def _message_id() -> str:
    return uuid.uuid4().hex


class OutgoingMail(models.Model):
    """One mail to one person, queued once per key and delivered by a task (ops.mail).

    The key says what the mail is about (`moderation:<author>:<last comment>`), so a task run
    twice queues it once. A delivered mail keeps its envelope and loses its body (which may
    hold a password reset link).
    """

    key = models.CharField(max_length=200, unique=True)
    to = models.EmailField()
    subject = models.CharField(max_length=200)
    body = models.TextField()
    message_id = models.CharField(max_length=64, default=_message_id, editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # While a worker talks to the relay about this mail, no other worker may (ops.mail).
    sending_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name_plural = "outgoing mail"

    def __str__(self) -> str:
        return f"{self.subject} → {self.to}"
