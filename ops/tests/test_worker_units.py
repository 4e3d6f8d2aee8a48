"""The worker's rules that need no process: probes, back-off, lost tasks, housekeeping."""

import time
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from ops.models import OutgoingMail, WorkerBeat
from ops.tests.tasks import always_fails
from ops.worker import MAX_RETRY_DELAY, Running, Worker, retry_delay


def test_liveness_fails_for_a_wedged_worker_and_passes_for_an_idle_or_busy_one(settings):
    settings.TASK_TIME_LIMIT = 60
    worker = Worker()
    assert worker.liveness()[0]  # idle, the loop turning
    worker.running = Running("t", "deliver_mail", time.monotonic() - 30)
    assert worker.liveness()[0]  # busy, within the time limit
    worker.running = Running("t", "deliver_mail", time.monotonic() - 61)
    assert worker.liveness() == (False, worker.liveness()[1])
    worker.running = None
    worker.loop_at = time.monotonic() - 120  # the loop stopped turning, no task to blame
    assert not worker.liveness()[0]


def test_ready_from_the_first_turn_until_sigterm():
    worker = Worker()
    assert not worker.readiness()[0]
    worker.turned = True
    assert worker.readiness()[0]
    worker.stop()
    assert worker.readiness() == (False, {"status": "stopping"})


def test_retries_wait_twice_as_long_each_time_at_most_an_hour(settings):
    settings.TASK_RETRY_DELAY = 10
    for attempt, expected in [(1, 10), (2, 20), (3, 40), (20, MAX_RETRY_DELAY)]:
        assert 0.8 * expected <= retry_delay(attempt) <= 1.2 * expected


@pytest.mark.django_db
def test_a_task_whose_worker_stopped_beating_goes_back_to_the_queue():
    lost = always_fails.enqueue("x")
    kept = always_fails.enqueue("y")
    DBTaskResult.objects.filter(pk=lost.id).update(
        status=TaskResultStatus.RUNNING, worker_ids=["gone"]
    )
    DBTaskResult.objects.filter(pk=kept.id).update(
        status=TaskResultStatus.RUNNING, worker_ids=["alive"]
    )
    now = timezone.now()
    WorkerBeat.objects.create(
        worker_id="gone", host="a", started_at=now, beat_at=now - timedelta(seconds=11)
    )
    WorkerBeat.objects.create(worker_id="alive", host="b", started_at=now, beat_at=now)
    Worker()._requeue_lost()
    assert DBTaskResult.objects.get(pk=lost.id).status == TaskResultStatus.READY
    assert DBTaskResult.objects.get(pk=kept.id).status == TaskResultStatus.RUNNING


@pytest.mark.django_db
def test_a_worker_runs_retries_and_gives_up_on_a_failing_task(settings):
    settings.TASK_MAX_ATTEMPTS = 2
    settings.TASK_RETRY_DELAY = 0
    result = always_fails.enqueue("no")
    worker = Worker(max_tasks=2)
    worker.poll_interval = 0
    worker._execute(worker._claim())
    assert DBTaskResult.objects.get(pk=result.id).status == TaskResultStatus.READY
    worker._execute(worker._claim())
    failed = DBTaskResult.objects.get(pk=result.id)
    assert failed.status == TaskResultStatus.FAILED
    assert "RuntimeError: no" in failed.traceback


@pytest.mark.django_db
def test_housekeeping_deletes_what_has_expired_and_keeps_the_rest():
    now = timezone.now()
    Session.objects.create(session_key="old", session_data="x", expire_date=now - timedelta(days=1))
    Session.objects.create(session_key="new", session_data="x", expire_date=now + timedelta(days=1))
    old_task, new_task, waiting = (always_fails.enqueue(str(n)) for n in range(3))
    DBTaskResult.objects.filter(pk__in=[old_task.id, new_task.id]).update(
        status=TaskResultStatus.SUCCESSFUL, finished_at=now - timedelta(days=8)
    )
    DBTaskResult.objects.filter(pk=new_task.id).update(finished_at=now)
    for key, sent in [("old", now - timedelta(days=31)), ("new", now), ("unsent", None)]:
        OutgoingMail.objects.create(
            key=key, to="a@example.com", subject="s", body="b", sent_at=sent
        )
    AccessAttempt.objects.create(
        username="u", ip_address="127.0.0.1", user_agent="", get_data="", post_data="",
        http_accept="", path_info="/", failures_since_start=1,
    )  # fmt: skip
    AccessAttempt.objects.update(attempt_time=now - timedelta(days=1))
    call_command("housekeeping")
    assert not AccessAttempt.objects.exists()
    assert set(Session.objects.values_list("session_key", flat=True)) == {"new"}
    assert set(DBTaskResult.objects.values_list("pk", flat=True)) == {
        *(
            DBTaskResult.objects.filter(pk__in=[new_task.id, waiting.id]).values_list(
                "pk", flat=True
            )
        )
    }
    assert DBTaskResult.objects.count() == 2
    assert set(OutgoingMail.objects.values_list("key", flat=True)) == {"new", "unsent"}
