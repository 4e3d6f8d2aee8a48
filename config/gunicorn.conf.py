"""gunicorn settings for kubeblog; every value can be changed through the environment.

Shutdown is gunicorn's own: on SIGTERM the master closes the listening socket and the workers
finish their requests within GUNICORN_GRACEFUL_TIMEOUT. In Kubernetes the preStop sleep keeps
the pod serving while its endpoint is removed, before SIGTERM (docs/operations.md, "Shutdown").
"""

import os
import shutil
import tempfile
from pathlib import Path

from config.startup import load_settings_or_exit

# Check the configuration in the master, before any worker starts: a missing variable stops
# start-up here with one line naming it.
load_settings_or_exit("config.settings.production")

from config.env import env  # noqa: E402
from ops.cgroup import available_cpus  # noqa: E402

wsgi_app = "config.wsgi:application"
bind = [f"0.0.0.0:{env('PORT')}"]

workers = env("GUNICORN_WORKERS") or 2 * available_cpus()
worker_class = env("GUNICORN_WORKER_CLASS")
threads = env("GUNICORN_THREADS")
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
preload_app = True  # workers fork from a loaded app: faster start, shared memory
timeout = env("GUNICORN_TIMEOUT")
graceful_timeout = env("GUNICORN_GRACEFUL_TIMEOUT")
# Longer than any load balancer's idle timeout in front, so it never reuses a closed socket.
keepalive = env("GUNICORN_KEEPALIVE")
max_requests = env("GUNICORN_MAX_REQUESTS")
max_requests_jitter = max_requests // 10
control_socket_disable = True  # no runtime control socket: read-only filesystem, no need

accesslog = "-"
errorlog = "-"
logger_class = "ops.gunicorn_logging.JsonLogger"
loglevel = env("LOG_LEVEL").lower()

METRICS_PORT = env("METRICS_PORT")

# Every worker writes its metric samples to one directory per master, which prometheus_client
# finds in PROMETHEUS_MULTIPROC_DIR (its documented interface) when it is first imported:
# after this file, which runs in the master before the app is preloaded.
_metrics_dir = Path(tempfile.gettempdir()) / f"kubeblog-metrics-{os.getpid()}"
shutil.rmtree(_metrics_dir, ignore_errors=True)
_metrics_dir.mkdir(parents=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics_dir)


def when_ready(server):
    if METRICS_PORT:
        from ops import master

        master.serve(server, METRICS_PORT)
        server.log.info("metrics and the probes (/healthz, /readyz) on port %s", METRICS_PORT)
    from ops.probes import check_migrations_and_close

    server.log.info("migrations before the workers start: %s", check_migrations_and_close())


def post_fork(server, worker):
    from django.conf import settings

    from ops.metrics import set_build_info

    set_build_info(settings.APP_VERSION, settings.POD_NAME)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    shutil.rmtree(_metrics_dir, ignore_errors=True)
