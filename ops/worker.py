"""The task worker, `python manage.py worker`: runs the tasks queued in PostgreSQL.

django-tasks-db keeps the queue (Django's Tasks API) and claims a task with SELECT ... FOR
UPDATE SKIP LOCKED, so any number of workers share one queue, through PgBouncer in transaction
mode too (no LISTEN/NOTIFY, no session state). Its own `db_worker` leaves out what a worker pod
needs; this loop adds it:

- Retries. A task that raises runs again after TASK_RETRY_DELAY, then twice as long each time
  (at most an hour), up to TASK_MAX_ATTEMPTS; then it stops as FAILED with its traceback,
  visible in the admin and as `kubeblog_tasks{state="failed"}`.
- Lost tasks come back. Each worker beats in ops.WorkerBeat every BEAT_SECONDS (database
  time). A task still RUNNING under a worker that has not beaten for LOST_AFTER seconds (killed,
  out of memory, its node gone) goes back to the queue and runs again: tasks are idempotent.
- A time limit. A task running past TASK_TIME_LIMIT is handed back and the process exits 1
  (a thread stuck in a system call cannot be interrupted); the kubelet starts a new one.
- SIGTERM. No new task; the running one has WORKER_SHUTDOWN_TIMEOUT to finish, else it is
  handed back; then the process exits 0, inside the pod's grace period.
- Probes and metrics on METRICS_PORT (ops.master.OpsServer): alive while the loop turns or its
  task is within the time limit, so a wedged worker fails and a busy or idle one passes; ready
  from the first turn of the loop until SIGTERM. The queue's depth and the age of its oldest
  task are read from PostgreSQL at each scrape, for the autoscaler.
- PostgreSQL down: the loop keeps trying every poll interval, alive and ready. Nothing is lost:
  the queue is PostgreSQL, so what was enqueued was committed with the change that asked for it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import secrets
import signal
import socket
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.db.models import Case, Count, Min, When
from django.db.models.functions import Now
from django.utils import timezone
from django_tasks import TaskContext
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult, get_date_max
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

from ops import tracing
from ops.models import WorkerBeat

logger = logging.getLogger("ops.worker")

BEAT_SECONDS = 2.0
LOST_AFTER = 10.0  # five beats missed
REQUEUE_EVERY = 5.0
MAX_RETRY_DELAY = 3600.0
TICK = 0.1  # how often sleeps look at the stop flag

REGISTRY = CollectorRegistry()
FINISHED = Counter(
    "kubeblog_tasks_finished",
    "Task attempts this worker finished, by task and outcome (succeeded, retried, failed).",
    ["task", "outcome"],
    registry=REGISTRY,
)
DURATION = Histogram(
    "kubeblog_task_duration_seconds",
    "How long task attempts ran, by task.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
BUSY = Gauge("kubeblog_worker_busy", "1 while this worker runs a task.", registry=REGISTRY)


@dataclass(frozen=True)
class Running:
    task_id: str
    name: str
    started: float  # time.monotonic()


def task_name(result: DBTaskResult) -> str:
    return result.task_path.rsplit(".", 1)[-1]


def retry_delay(attempt: int) -> float:
    """Seconds before attempt `attempt + 1`: doubling from TASK_RETRY_DELAY, at most an hour,
    spread by ±20 % so that tasks failing together do not come back together."""
    delay = min(settings.TASK_RETRY_DELAY * 2 ** (attempt - 1), MAX_RETRY_DELAY)
    return delay * random.uniform(0.8, 1.2)  # noqa: S311 - spreading, not secrecy


class Worker:
    def __init__(self, *, max_tasks: int | None = None) -> None:
        host = socket.gethostname()
        self.worker_id = f"{host}-{os.getpid()}-{secrets.token_hex(4)}"[-64:]
        self.host = host
        self.poll_interval = settings.WORKER_POLL_INTERVAL
        self.time_limit = settings.TASK_TIME_LIMIT
        self.shutdown_timeout = settings.WORKER_SHUTDOWN_TIMEOUT
        self.max_attempts = settings.TASK_MAX_ATTEMPTS
        self.max_tasks = max_tasks
        self.running: Running | None = None
        self.loop_at = time.monotonic()
        self.turned = False  # the loop has turned once: ready
        self.stop_at: float | None = None
        self.done = threading.Event()
        self._next_requeue = 0.0
        self._database_failing = False

    # --- the loop ------------------------------------------------------------------------
    def run(self) -> int:
        logger.info("worker started", extra={"worker_id": self.worker_id})
        self._beat()
        threading.Thread(target=self._watch, name="worker-watch", daemon=True).start()
        finished = 0
        try:
            while self.stop_at is None:
                self.loop_at = time.monotonic()
                self.turned = True
                try:
                    close_old_connections()
                    self._requeue_lost()
                    claimed = self._claim()
                except DatabaseError as exc:
                    if not is_locked_database_exception(exc):  # SQLite busy: not a failure
                        self._database_state(failing=exc)
                    self._sleep(self.poll_interval)
                    continue
                self._database_state(failing=None)
                if claimed is None:
                    self._sleep(self.poll_interval)
                    continue
                self._execute(claimed)
                finished += 1
                if self.max_tasks is not None and finished >= self.max_tasks:
                    break
        finally:
            self.done.set()
            self._sign_off()
        logger.info("worker stopped", extra={"worker_id": self.worker_id})
        return 0

    def stop(self, signum: int = signal.SIGTERM, frame=None) -> None:
        """SIGTERM or SIGINT: finish the running task (WORKER_SHUTDOWN_TIMEOUT at most), then
        exit 0. A second signal hands the task back at once."""
        if self.stop_at is not None:
            self._hand_back_and_exit(0, "a second signal")
        self.stop_at = time.monotonic()
        logger.info(
            "worker stopping: %s", "finishing its task" if self.running else "idle",
            extra={"worker_id": self.worker_id},
        )  # fmt: skip

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while self.stop_at is None and time.monotonic() < deadline:
            time.sleep(TICK)

    def _claim(self) -> DBTaskResult | None:
        ready = DBTaskResult.objects.ready()
        with exclusive_transaction(ready.db):
            try:
                claimed = ready.get_locked()
            except DatabaseError as exc:
                if is_locked_database_exception(exc):  # SQLite busy: next turn
                    return None
                raise
            if claimed is not None:
                claimed.claim(self.worker_id)
        return claimed

    def _execute(self, result: DBTaskResult) -> None:
        name, attempt = task_name(result), len(result.worker_ids)
        context = {"worker_id": self.worker_id, "task": name, "task_id": str(result.pk)}
        self.running = Running(str(result.pk), name, time.monotonic())
        BUSY.set(1)
        try:
            try:
                task = result.task
                args, kwargs = result.args_kwargs["args"], result.args_kwargs["kwargs"]
                with tracing.task_span(name, str(result.pk), attempt, result.args_kwargs):
                    if task.takes_context:
                        context_ = TaskContext(task_result=result.task_result)
                        value = task.call(context_, *args, **kwargs)
                    else:
                        value = task.call(*args, **kwargs)
            except Exception as exc:
                outcome = self._failed(result, exc, attempt, context)
            else:
                result.set_successful(value)
                outcome = "succeeded"
        except DatabaseError:
            # The outcome could not be written: the task stays RUNNING under this worker, and
            # _requeue_lost puts it back in the queue once the database answers.
            logger.exception("task outcome not recorded", extra=context)
            outcome = "unrecorded"
        finally:
            seconds = time.monotonic() - self.running.started
            self.running = None
            BUSY.set(0)
        FINISHED.labels(name, outcome).inc()
        DURATION.labels(name).observe(seconds)
        logger.info(
            "task %s in %.3f s", outcome, seconds,
            extra={**context, "attempt": attempt, "outcome": outcome},
        )  # fmt: skip

    def _failed(self, result: DBTaskResult, exc: Exception, attempt: int, context: dict) -> str:
        if attempt >= self.max_attempts:
            result.set_failed(exc)
            logger.error(
                "task failed %d times, given up", attempt,
                exc_info=exc, extra={**context, "attempt": attempt},
            )  # fmt: skip
            return "failed"
        delay = retry_delay(attempt)
        DBTaskResult.objects.filter(pk=result.pk).update(
            status=TaskResultStatus.READY,
            run_after=timezone.now() + timedelta(seconds=delay),
            # The last error stays visible while the task waits for its next attempt.
            exception_class_path=f"{type(exc).__module__}.{type(exc).__qualname__}",
            traceback="".join(traceback.format_exception(exc)),
        )
        logger.warning(
            "task failed (attempt %d of %d), retried in %.2f s: %s",
            attempt, self.max_attempts, delay, exc, extra={**context, "attempt": attempt},
        )  # fmt: skip
        return "retried"

    def _requeue_lost(self) -> None:
        """Tasks RUNNING under a worker that stopped beating (or under this one, but not the
        one it runs: its outcome could not be written) go back to the queue."""
        now = time.monotonic()
        if now < self._next_requeue:
            return
        self._next_requeue = now + REQUEUE_EVERY
        running = list(DBTaskResult.objects.running().values_list("pk", "worker_ids"))
        if not running:
            return
        alive = set(
            WorkerBeat.objects.filter(
                beat_at__gte=Now() - timedelta(seconds=LOST_AFTER)
            ).values_list("worker_id", flat=True)
        )
        current = self.running.task_id if self.running else None
        lost = [
            pk
            for pk, workers in running
            if not workers
            or workers[-1] not in alive
            or (workers[-1] == self.worker_id and str(pk) != current)
        ]
        if lost:
            back = DBTaskResult.objects.filter(pk__in=lost, status=TaskResultStatus.RUNNING)
            count = back.update(status=TaskResultStatus.READY, run_after=timezone.now())
            logger.warning(
                "%d task(s) whose worker was lost went back to the queue", count,
                extra={"worker_id": self.worker_id},
            )  # fmt: skip

    def _database_state(self, *, failing: Exception | None) -> None:
        """Log the database failing and recovering once each, not once per turn."""
        if failing is not None and not self._database_failing:
            logger.warning("queue unreachable, retrying: %s", failing)
        elif failing is None and self._database_failing:
            logger.info("queue reachable again")
        self._database_failing = failing is not None

    # --- the watch thread: beats, time limit, shutdown deadline ----------------------------
    def _watch(self) -> None:
        next_beat = time.monotonic() + BEAT_SECONDS
        try:
            while not self.done.is_set():
                now = time.monotonic()
                if now >= next_beat:
                    self._beat()
                    next_beat = now + BEAT_SECONDS
                running = self.running
                if running is not None and now - running.started > self.time_limit:
                    self._hand_back_and_exit(1, f"over its time limit ({self.time_limit:g} s)")
                if (
                    running is not None
                    and self.stop_at is not None
                    and now - self.stop_at > self.shutdown_timeout
                ):
                    self._hand_back_and_exit(0, "not finished within WORKER_SHUTDOWN_TIMEOUT")
                time.sleep(TICK)
        finally:
            connection.close()

    def _beat(self) -> None:
        try:
            if not WorkerBeat.objects.filter(pk=self.worker_id).update(beat_at=Now()):
                WorkerBeat.objects.create(
                    worker_id=self.worker_id, host=self.host, started_at=Now(), beat_at=Now()
                )
        except DatabaseError as exc:
            logger.debug("beat not written: %s", exc)
            connection.close()  # broken by an outage: the next beat opens a new connection

    def _sign_off(self) -> None:
        with contextlib.suppress(DatabaseError):  # else the beat goes stale by itself
            WorkerBeat.objects.filter(pk=self.worker_id).delete()

    def _hand_back_and_exit(self, code: int, why: str) -> None:
        running = self.running
        if running is not None:
            try:
                DBTaskResult.objects.filter(
                    pk=running.task_id, status=TaskResultStatus.RUNNING
                ).update(status=TaskResultStatus.READY, run_after=timezone.now())
            except DatabaseError:
                logger.exception("task not handed back; it returns once this beat is stale")
            logger.warning(
                "task handed back to the queue: %s", why,
                extra={"worker_id": self.worker_id, "task": running.name,
                       "task_id": running.task_id},
            )  # fmt: skip
        self._sign_off()
        logging.shutdown()
        os._exit(code)

    # --- probes ----------------------------------------------------------------------------
    def liveness(self) -> tuple[bool, dict]:
        now, running = time.monotonic(), self.running
        if running is not None:
            seconds = now - running.started
            ok = seconds <= self.time_limit
            return ok, {"status": "ok" if ok else "task over its time limit",
                        "task": running.name, "seconds": round(seconds, 1)}  # fmt: skip
        idle = now - self.loop_at
        ok = idle <= max(30.0, 10 * self.poll_interval)
        return ok, {"status": "ok" if ok else "loop stuck", "seconds": round(idle, 1)}

    def readiness(self) -> tuple[bool, dict]:
        if self.stop_at is not None:
            return False, {"status": "stopping"}
        return self.turned, {"status": "ok" if self.turned else "starting"}


class QueueCollector:
    """The queue as PostgreSQL holds it, read at each scrape (under statement_timeout)."""

    def describe(self):
        return []  # registering must not query the database

    def collect(self):
        try:
            yield from self._families()
        except DatabaseError as exc:
            logger.warning("queue metrics not read: %s", exc)
        finally:
            connection.close()

    def _families(self):
        states = GaugeMetricFamily(
            "kubeblog_tasks", "Tasks in the queue, by state.", labels=["state"]
        )
        by_status = dict(
            DBTaskResult.objects.values_list("status").annotate(n=Count("pk")).order_by()
        )
        due = DBTaskResult.objects.ready()
        ready = due.count()
        waiting = by_status.get(TaskResultStatus.READY, 0) - ready
        states.add_metric(["ready"], ready)
        states.add_metric(["scheduled"], waiting)
        states.add_metric(["running"], by_status.get(TaskResultStatus.RUNNING, 0))
        states.add_metric(["failed"], by_status.get(TaskResultStatus.FAILED, 0))
        yield states
        due_since = due.aggregate(
            since=Min(Case(When(run_after=get_date_max(), then="enqueued_at"), default="run_after"))
        )["since"]
        age = (timezone.now() - due_since).total_seconds() if due_since else 0.0
        yield GaugeMetricFamily(
            "kubeblog_tasks_oldest_ready_age_seconds",
            "How long the oldest task that may run now has waited (0: none waits).",
            value=max(age, 0.0),
        )
        alive = WorkerBeat.objects.filter(
            beat_at__gte=Now() - timedelta(seconds=LOST_AFTER)
        ).count()
        yield GaugeMetricFamily(
            "kubeblog_workers_alive", "Workers that beat in the last 10 s.", value=alive
        )


REGISTRY.register(QueueCollector())
