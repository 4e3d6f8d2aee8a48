"""`python manage.py worker`: run queued tasks until SIGTERM (ops.worker)."""

import signal

from django.core.management.base import BaseCommand

from config.env import env
from ops import tracing
from ops.master import OpsServer
from ops.worker import REGISTRY, Worker


class Command(BaseCommand):
    help = "Run the tasks queued in the database, one at a time, until SIGTERM."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--max-tasks", type=int, default=None, help="exit 0 after this many tasks"
        )

    def handle(self, *args, max_tasks=None, **options) -> None:
        tracing.start()  # if the OTEL_* variables ask for traces
        worker = Worker(max_tasks=max_tasks)
        signal.signal(signal.SIGTERM, worker.stop)
        signal.signal(signal.SIGINT, worker.stop)
        port = env("METRICS_PORT")
        if port:
            OpsServer(
                port, alive=worker.liveness, ready=worker.readiness, registry=REGISTRY
            ).start()
        worker.run()
