"""Scenario 13: a worker is SIGKILLed in the middle of a task, another one is stopped with
SIGTERM in the middle of its own, under the load, while a batch of mail waits in the queue.

The batch is `ops.mail.queue_mail` called once per mail in a one-off container of the
release (as a request or a task would call it), each mail with a key of its own. From the
batch's first task on, the relay (harness/smtp.py) holds every conversation at RCPT TO, as a
slow relay does: each worker then sits inside a `deliver_mail` task, talking to the relay,
when the drill kills one and deletes the other; the relay answers again a second later.
What a worker queue promises is then checked in PostgreSQL and at the relay: every task
finished, none lost or failed, every mail received exactly once, and the web tier saw nothing.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter

import psycopg

from tests.drill import kube
from tests.drill.scenarios import Drill, Outcome, _failures, _percentile, _round, failed

# The queue must be empty again within this long after the kill: the killed worker's beat
# goes stale after 10 s and a live worker looks for lost tasks every 5 s (ops/worker.py); the
# mail's sending lease lasts TASK_TIME_LIMIT (15 s, tests/drill/config.py) from the moment
# the killed task took it, and the retries that meet the lease wait 2 s, 4 s, 8 s (±20 %).
DRAIN_BOUND = 45.0
# For the batch's first task to be queued, then for the workers to be inside tasks.
BUSY_TIMEOUT = 30.0

ENQUEUE = (
    "import os\n"
    "from ops.mail import queue_mail\n"
    "batch = os.environ['DRILL_BATCH']\n"
    "for i in range(int(os.environ['DRILL_MAILS'])):\n"
    "    queue_mail(key=f'{batch}:{i}', to=f'reader{i}@example.com',\n"
    "               subject=f'{batch} mail {i}', body=f'Mail {i} of the drill.')\n"
)
# The batch's tasks and their mails, as PostgreSQL holds them.
BATCH_SQL = (
    "SELECT t.id::text, t.status, t.worker_ids, t.enqueued_at, m.key, m.subject,"
    " m.message_id, m.sent_at"
    " FROM django_tasks_database_dbtaskresult t"
    " JOIN ops_outgoingmail m ON m.id = (t.args_kwargs -> 'args' ->> 0)::bigint"
    " WHERE t.task_path = 'ops.mail.deliver_mail' AND m.key LIKE %s ORDER BY m.key"
)
RUNNING_SQL = (
    "SELECT id::text, task_path, worker_ids FROM django_tasks_database_dbtaskresult"
    " WHERE status = 'RUNNING' AND worker_ids ->> -1 LIKE %s"
)


def worker_killed(d: Drill, o: Outcome) -> None:
    """SIGKILL one worker inside a task of the batch (the kubelet restarts it), delete the
    other inside its task (SIGTERM; the Deployment starts a new pod), then wait for the queue
    to drain and compare what PostgreSQL and the relay hold with what was queued."""
    t = d.timings
    o.no_retries = True  # nothing changes on the web tier: not even a retry by the proxy
    d.wait(t.settle)
    stack, tier, smtp = d.stack, d.stack.workers, d.stack.smtp
    pods = tier.running()
    release = pods[0].release
    batch = f"drill-{secrets.token_hex(4)}"
    tasks = _Batch(stack.pg.direct_url, batch)

    d.events.add("action", f"{t.mails} mails queued ({batch})")
    enqueue = _in_background(
        lambda: stack.run_once(
            release,
            "python manage.py shell -c \"import os; exec(os.environ['DRILL_ENQUEUE'])\"",
            env={
                **stack.base_env(release),
                "DRILL_ENQUEUE": ENQUEUE,
                "DRILL_BATCH": batch,
                "DRILL_MAILS": str(t.mails),
            },
        )
    )
    stopping = None
    held_by_victim: list[dict] = []
    held_by_other: list[dict] = []
    victim = other = None
    try:
        # The relay holds every conversation from the batch's first task on (not before: a
        # worker would sit on the load's moderation mail until its EMAIL_TIMEOUT).
        if d.wait_for(lambda: tasks.rows(), BUSY_TIMEOUT, 0.05):
            smtp.hold()
            d.events.add("action", "the relay holds every conversation at RCPT TO")
        # One worker inside a task of the batch, the other inside any task.
        busy = d.wait_for(lambda: _busy_pair(tasks, pods), BUSY_TIMEOUT, 0.1)
        if busy:
            victim, other = busy
            d.wait(0.5)
            held_by_victim = tasks.running_in(victim.name, batch_only=True)
            restarts = victim.restarts
            killed = d.events.add("fault", f"SIGKILL {victim.name} in the middle of a task")
            tier.kill(victim)
            held_by_other = tasks.running_in(other.name)
            stopping = tier.delete_in_background(other)
            d.wait(1.0)  # the SIGTERMed worker's task still waits on the relay meanwhile
    finally:
        smtp.release()
    enqueued = enqueue()
    if victim is None or other is None or stopping is None:
        raise RuntimeError(f"no worker took a task of the batch in {BUSY_TIMEOUT:g}s")
    d.events.add("action", "the relay answers again")
    # The Deployment replaces the deleted pod at once, while the old one still stops.
    replacement = tier.start(release)
    stopped = stopping()
    drained_at = d.wait_for(lambda: tasks.drained(t.mails) and d.clock.now(), DRAIN_BOUND, 0.5)
    if drained_at:
        d.events.add("heal", f"the queue is drained ({t.mails} tasks finished)")
    restarted = d.wait_for(
        lambda: victim.restarts > restarts and victim.probe("/readyz") == 200, 30
    )
    d.wait(t.settle)
    records = d.finish(o)

    rows = tasks.rows()
    by_status = Counter(r["status"] for r in rows)
    received = smtp.messages
    ids = Counter(_message_id(m) for m in received)
    subjects = Counter(str(m["Subject"]) for m in received)
    expected_ids = {r["message_id"] for r in rows}
    expected_subjects = {r["subject"] for r in rows}
    got = Counter({i: n for i, n in ids.items() if i in expected_ids})
    not_once = {
        **{r["key"]: got[r["message_id"]] for r in rows if got[r["message_id"]] != 1},
        **{s: n for s, n in subjects.items() if s in expected_subjects and n != 1},
    }
    stray = [s for s in subjects if s.startswith(batch) and s not in expected_subjects]
    lost = {r["id"]: r for r in rows if r["id"] in {h["id"] for h in held_by_victim}}
    # What the SIGTERMed worker was running: finished by that same worker, not handed back.
    after = tasks.by_id([h["id"] for h in held_by_other])
    finished_by_other = [
        {"task": h["task_path"].rsplit(".", 1)[-1], "status": after[h["id"]]["status"],
         "finished_by_it": after[h["id"]]["worker_ids"][-1] == h["worker_ids"][-1]}
        for h in held_by_other if h["id"] in after
    ]  # fmt: skip
    latencies = [(r["sent_at"] - r["enqueued_at"]).total_seconds() for r in rows if r["sent_at"]]
    grace = kube.worker().grace_period
    o.figures.update(
        tasks=len(rows),
        enqueue_output=enqueued.strip()[-200:],
        tasks_by_status=dict(by_status),
        mails_received=sum(got.values()),
        victim=victim.name,
        tasks_running_in_it_when_killed=len(held_by_victim),
        attempts_of_those=[len(r["worker_ids"]) for r in lost.values()],
        restarted_after_s=_round(victim.restarted_at[-1] - killed if restarted else None),
        kill_to_queue_drained_s=_round(drained_at - killed if drained_at else None),
        enqueue_to_delivery_p50_s=_round(_percentile(latencies, 50)),
        enqueue_to_delivery_max_s=_round(max(latencies, default=None)),
        stopped_with_sigterm=stopped,
        worker_grace_period=f"{grace:g}s ({kube.worker().source})",
        replacement=replacement.name,
        mails_received_in_the_drill=len(received),
        moderation_mails_received=sum(1 for s in subjects.elements() if "awaiting" in s),
    )
    o.check(
        "each worker was inside a task when the faults came (the killed one, the batch's)",
        bool(held_by_victim) and bool(held_by_other),
        {"killed": len(held_by_victim), "stopped": len(held_by_other)},
    )
    o.check(
        f"all {t.mails} tasks finished SUCCESSFUL within {DRAIN_BOUND:g}s of the kill "
        "(none READY, RUNNING or FAILED: 0 lost)",
        len(rows) == t.mails and by_status == Counter({"SUCCESSFUL": t.mails}) and drained_at,
        {"tasks": len(rows), "by_status": dict(by_status)},
    )
    o.check(
        "the killed worker's task ran again in another worker and succeeded",
        bool(lost)
        and all(
            r["status"] == "SUCCESSFUL"
            and len(r["worker_ids"]) >= 2
            and r["worker_ids"][-1] != r["worker_ids"][0]
            for r in lost.values()
        ),
        [{"worker_ids": r["worker_ids"], "status": r["status"]} for r in lost.values()],
    )
    o.check(
        "every mail of the batch received by the relay exactly once (by Message-ID and subject)",
        len(rows) == t.mails and not not_once and not stray,
        {"not_once": dict(list(not_once.items())[:10]), "stray": stray[:10]},
    )
    twice = {i: n for i, n in ids.items() if n > 1}
    o.check("no mail of the whole drill received twice (by Message-ID)", not twice, twice)
    o.check(
        f"the worker stopped with SIGTERM finished its task and exited 0 within the grace "
        f"period ({grace:g}s)",
        stopped.get("exit_code") == 0
        and stopped.get("stopped_after_s", grace) < grace
        and bool(finished_by_other)
        and all(r["status"] == "SUCCESSFUL" and r["finished_by_it"] for r in finished_by_other),
        {**stopped, "its_task": finished_by_other},
    )
    o.check(
        "the kubelet restarted the killed worker once, ready again",
        bool(restarted) and victim.restarts == restarts + 1,
        victim.restarts - restarts,
    )
    o.check(
        "no failed request (the web tier did not notice)", not failed(records), _failures(records)
    )


class _Batch:
    """The scenario's tasks in PostgreSQL, read straight from the primary."""

    def __init__(self, url: str, batch: str) -> None:
        self.url = url
        self.pattern = f"{batch}:%"

    def _query(self, sql: str, params: tuple) -> list[dict]:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(sql, params)
            names = [c.name for c in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor]

    def rows(self) -> list[dict]:
        return self._query(BATCH_SQL, (self.pattern,))

    def running_in(self, pod: str, batch_only: bool = False) -> list[dict]:
        """Tasks RUNNING in a worker of that pod (its worker ids begin with the pod's name):
        any task, or only the batch's."""
        rows = self._query(RUNNING_SQL, (f"{pod}-%",))
        if batch_only:
            ours = {r["id"] for r in self.rows()}
            rows = [r for r in rows if r["id"] in ours]
        return rows

    def by_id(self, ids: list[str]) -> dict[str, dict]:
        if not ids:
            return {}
        rows = self._query(
            "SELECT id::text, status, worker_ids FROM django_tasks_database_dbtaskresult"
            " WHERE id::text = ANY(%s)",
            (ids,),
        )
        return {r["id"]: r for r in rows}

    def drained(self, count: int) -> bool:
        """All `count` tasks of the batch are there, and none is waiting or running."""
        rows = self.rows()
        return len(rows) == count and all(r["status"] in ("SUCCESSFUL", "FAILED") for r in rows)


def _busy_pair(tasks: _Batch, pods: list) -> tuple | None:
    """(a pod running a task of the batch, another pod running any task), if there are."""
    for victim in pods:
        if tasks.running_in(victim.name, batch_only=True):
            for other in pods:
                if other is not victim and tasks.running_in(other.name):
                    return victim, other
    return None


def _in_background(work):
    """work() in a thread; returns a function that waits for its result (or raises)."""
    result: list = []

    def one() -> None:
        try:
            result.append(("ok", work()))
        except BaseException as exc:  # raised again in the caller's thread
            result.append(("error", exc))

    thread = threading.Thread(target=one, name="enqueue", daemon=True)
    thread.start()

    def wait():
        thread.join(300)
        if not result:
            raise RuntimeError("still enqueueing")
        kind, value = result[0]
        if kind == "error":
            raise value
        return value

    return wait


def _message_id(message) -> str:
    """The outbox's message id: the Message-ID header's part before the @."""
    return str(message["Message-ID"] or "").strip().strip("<>").partition("@")[0]
