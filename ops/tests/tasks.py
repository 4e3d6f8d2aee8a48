"""Tasks for the worker's tests: each leaves a trace in the mail it queues."""

import time

from django_tasks import task

from ops.mail import queue_mail


@task(takes_context=True)
def mail_after(context, key: str, seconds: float, first_attempt_only: bool = False) -> str:
    """Sleep `seconds` (on the first attempt only, if asked), then queue a mail about `key`."""
    if context.attempt == 1 or not first_attempt_only:
        time.sleep(seconds)
    queue_mail(key=key, to="ops@example.com", subject=f"done: {key}", body=key)
    return key


@task()
def always_fails(message: str) -> None:
    raise RuntimeError(message)
