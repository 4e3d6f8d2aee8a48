"""The worker as a real process (`manage.py worker`) against the test run's PostgreSQL, with a
real SMTP server: delivery, retries, rollback, kill -9 and SIGTERM."""

import time

import pytest
from django.db import transaction
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from harness.worker import wait_until as _wait
from ops.mail import queue_mail
from ops.models import OutgoingMail, WorkerBeat
from ops.tests.tasks import always_fails, mail_after

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SOON = 20  # seconds for what a worker does at once: a bound on a hang, never a speed target


def _result(task_id) -> DBTaskResult:
    return DBTaskResult.objects.get(pk=task_id)


def test_a_queued_mail_is_delivered_once_and_forgets_its_body(worker, smtp):
    with worker() as process:
        queue_mail(key="hello:1", to="reader@example.com", subject="Hello", body="Hi there.")
        [message] = smtp.wait_for(1, SOON)
        assert message["Subject"] == "Hello"
        assert message["To"] == "reader@example.com"
        assert message.get_content().strip() == "Hi there."
        mail = OutgoingMail.objects.get(key="hello:1")
        assert message["Message-ID"] == f"<{mail.message_id}@localhost>"
        assert _wait(lambda: OutgoingMail.objects.get(key="hello:1").sent_at is not None)
        assert OutgoingMail.objects.get(key="hello:1").body == ""
        # Queued again about the same thing: nothing new is queued.
        assert (
            queue_mail(key="hello:1", to="reader@example.com", subject="Hello", body="x") is False
        )
        assert _wait(
            lambda: (
                process.metric(
                    "kubeblog_tasks_finished_total", task="deliver_mail", outcome="succeeded"
                )
                == 1
            )
        )
        time.sleep(1)
        assert len(smtp.messages) == 1


def test_a_task_enqueued_in_a_transaction_that_rolls_back_never_runs(worker, smtp):
    with pytest.raises(RuntimeError), transaction.atomic():
        queue_mail(key="rolled-back", to="a@example.com", subject="Never", body="never")
        raise RuntimeError("the change fails after asking for its mail")
    queue_mail(key="committed", to="a@example.com", subject="Committed", body="yes")
    with worker():
        smtp.wait_for(1, SOON)
        time.sleep(1.5)  # time enough for anything else in the queue to run too
    assert [m["Subject"] for m in smtp.messages] == ["Committed"]
    assert not OutgoingMail.objects.filter(key="rolled-back").exists()
    assert DBTaskResult.objects.count() == 1


def test_kill_9_in_the_middle_of_a_task_the_task_runs_again_and_the_mail_goes_once(worker, smtp):
    smtp.hold()  # the relay is slow: the worker waits inside the SMTP conversation
    queue_mail(key="once", to="a@example.com", subject="Exactly once", body="once")
    first = worker(EMAIL_TIMEOUT="5", TASK_TIME_LIMIT="8").start()
    assert _wait(lambda: DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).exists())
    time.sleep(0.5)
    first.kill()
    smtp.release()
    assert smtp.messages == []
    started = time.monotonic()
    with worker(EMAIL_TIMEOUT="5", TASK_TIME_LIMIT="8"):
        # The lost task comes back once the killed worker's beat is stale (10 s) and the
        # mail's lease has run out (the time limit, 8 s).
        smtp.wait_for(1, 60)
        recovered = time.monotonic() - started
        time.sleep(2)
    assert [m["Subject"] for m in smtp.messages] == ["Exactly once"]
    [task] = DBTaskResult.objects.all()
    assert task.status == TaskResultStatus.SUCCESSFUL
    assert len(task.worker_ids) >= 2 and task.worker_ids[0] != task.worker_ids[-1]
    print(f"\nkill -9 mid-task: mail delivered {recovered:.1f} s after a new worker started")


def test_sigterm_while_idle_exits_0_at_once(worker):
    process = worker().start()
    started = time.monotonic()
    assert process.terminate(timeout=30) == 0
    took = time.monotonic() - started
    assert took < 5, took  # a bound on a hang, not a speed target
    assert not WorkerBeat.objects.exists()  # it signed off
    print(f"\nidle worker: exit 0 {took:.2f} s after SIGTERM")


def test_sigterm_during_a_task_lets_it_finish_then_exits_0(worker, smtp):
    process = worker().start()
    result = mail_after.enqueue("finished", 2.0)
    assert _wait(lambda: _result(result.id).status == TaskResultStatus.RUNNING)
    started = time.monotonic()
    assert process.terminate(timeout=30) == 0
    print(f"\nbusy worker: exit 0 {time.monotonic() - started:.2f} s after SIGTERM")
    assert _result(result.id).status == TaskResultStatus.SUCCESSFUL
    assert OutgoingMail.objects.filter(key="finished").exists()


def test_sigterm_hands_back_a_task_that_would_not_finish_in_time(worker, smtp):
    process = worker(WORKER_SHUTDOWN_TIMEOUT="1").start()
    result = mail_after.enqueue("handed back", 30.0, first_attempt_only=True)
    assert _wait(lambda: _result(result.id).status == TaskResultStatus.RUNNING)
    started = time.monotonic()
    assert process.terminate(timeout=30) == 0
    took = time.monotonic() - started
    assert took < 10, took
    assert _result(result.id).status == TaskResultStatus.READY
    print(f"\nworker with a long task: handed back, exit 0 {took:.2f} s after SIGTERM")
    with worker():  # the next worker runs it (its second attempt does not sleep)
        assert _wait(lambda: _result(result.id).status == TaskResultStatus.SUCCESSFUL)
    assert OutgoingMail.objects.filter(key="handed back").count() == 1


def test_a_failing_task_is_retried_with_back_off_then_stops_as_failed(worker):
    with worker(TASK_MAX_ATTEMPTS="3") as process:
        result = always_fails.enqueue("the relay said no")
        assert _wait(lambda: _result(result.id).status == TaskResultStatus.FAILED)
        assert _wait(lambda: process.metric("kubeblog_tasks", state="failed") == 1)
    task = _result(result.id)
    assert len(task.worker_ids) == 3
    assert "RuntimeError: the relay said no" in task.traceback
    waits = [
        float(line["message"].split("retried in ")[1].split(" s")[0])
        for line in process.lines()
        if line["message"].startswith("task failed (attempt")
    ]
    assert len(waits) == 2 and waits[1] > waits[0], waits  # 0.3 s, then twice that (±20 %)


def test_a_task_past_its_time_limit_is_handed_back_and_the_worker_exits_1(worker):
    process = worker(TASK_TIME_LIMIT="1").start()
    result = mail_after.enqueue("too slow", 30.0, first_attempt_only=True)
    assert _wait(lambda: process.process.poll() is not None)
    assert process.process.returncode == 1
    assert _result(result.id).status == TaskResultStatus.READY
    assert any("time limit" in line["message"] for line in process.lines())


def test_probes_pass_idle_and_busy_and_readiness_ends_with_sigterm(worker, smtp):
    process = worker().start()
    assert process.probe("/healthz")[0] == 200
    assert process.probe("/readyz")[0] == 200
    assert process.metric("kubeblog_workers_alive") == 1
    result = mail_after.enqueue("busy", 3.0)
    assert _wait(lambda: _result(result.id).status == TaskResultStatus.RUNNING)
    status, body = process.probe("/healthz")
    assert status == 200 and '"task": "mail_after"' in body
    assert process.metric("kubeblog_worker_busy") == 1
    process.process.send_signal(15)
    assert _wait(lambda: process.probe("/readyz")[0] == 503, 2)
    assert process.process.wait(30) == 0
