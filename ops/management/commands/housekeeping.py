"""`python manage.py housekeeping`: what Django and its apps never clean by themselves.

Run hourly by the `housekeeping` CronJob. Each step is idempotent and independent: a step that
fails is reported and the others still run; the command then exits 1, so the Job shows it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from blog.media import StorageUnavailable, sweep_orphans
from blog.tasks import queue_render_again
from ops.models import OutgoingMail, WorkerBeat

logger = logging.getLogger("ops.housekeeping")

KEEP_LOGIN_RECORDS_DAYS = 30  # django-axes' access and failure logs
KEEP_SUCCEEDED_TASKS_DAYS = 7
KEEP_FAILED_TASKS_DAYS = 30  # time enough to look at why
KEEP_SENT_MAIL_DAYS = 30
STEP_STATEMENT_TIMEOUT = "5min"  # one step's DELETE may be long after a quiet month


def clear_sessions() -> int:
    expired = Session.objects.filter(expire_date__lt=timezone.now()).count()
    call_command("clearsessions")  # Django's own; cached_db sessions never expire by themselves
    return expired


def clear_login_records() -> int:
    # Lock-out records past their cool-off are cleaned when someone logs in; on a quiet site
    # they would stay, so here too.
    cooled_off = timezone.now() - timedelta(hours=settings.AXES_COOLOFF_TIME)
    return (
        AxesProxyHandler.reset_logs(age_days=KEEP_LOGIN_RECORDS_DAYS)
        + AxesProxyHandler.reset_failure_logs(age_days=KEEP_LOGIN_RECORDS_DAYS)
        + AccessAttempt.objects.filter(attempt_time__lt=cooled_off).delete()[0]
    )


def prune_finished_tasks() -> int:
    now = timezone.now()
    succeeded = Q(
        status=TaskResultStatus.SUCCESSFUL,
        finished_at__lt=now - timedelta(days=KEEP_SUCCEEDED_TASKS_DAYS),
    )
    failed = Q(
        status=TaskResultStatus.FAILED, finished_at__lt=now - timedelta(days=KEEP_FAILED_TASKS_DAYS)
    )
    return DBTaskResult.objects.filter(succeeded | failed).delete()[0]


def prune_sent_mail() -> int:
    old = timezone.now() - timedelta(days=KEEP_SENT_MAIL_DAYS)
    return OutgoingMail.objects.filter(sent_at__lt=old).delete()[0]


def prune_worker_beats() -> int:
    return WorkerBeat.objects.filter(beat_at__lt=Now() - timedelta(days=1)).delete()[0]


STEPS = {
    "expired sessions": clear_sessions,
    "old login records": clear_login_records,
    "finished tasks": prune_finished_tasks,
    "sent mail": prune_sent_mail,
    "stale worker beats": prune_worker_beats,
    # Objects in the bucket that no image row refers to (blog.media explains how they come).
    "orphan images": sweep_orphans,
    # Posts and comments an older release rendered: a task renders them again (blog.tasks).
    "HTML to render again": queue_render_again,
}


class Command(BaseCommand):
    help = (
        "Delete expired sessions, old login records, finished tasks, sent mail and images "
        "no post refers to; queue the rendering again of HTML an older release made."
    )

    def handle(self, *args, **options) -> None:
        failed = []
        for name, step in STEPS.items():
            try:
                with transaction.atomic():
                    if connection.vendor == "postgresql":
                        with connection.cursor() as cursor:
                            cursor.execute(
                                f"SET LOCAL statement_timeout = '{STEP_STATEMENT_TIMEOUT}'"
                            )
                    count = step()
            except (DatabaseError, StorageUnavailable) as exc:
                logger.error("housekeeping step failed: %s: %s", name, exc)
                failed.append(name)
            else:
                logger.info("housekeeping: %s: %d", name, count)
        if failed:
            raise CommandError(f"housekeeping steps failed: {', '.join(failed)}")
