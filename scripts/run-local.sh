#!/usr/bin/env bash
# `make run`: the blog on SQLite with demo content at http://127.0.0.1:$PORT, and beside it
# the task worker (mail is written to its log: EMAIL_HOST=console). Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT="${PORT:-8000}"

$PY manage.py migrate --noinput -v0
$PY manage.py seed_demo

# No probe port on a laptop; the worker looks at the queue every second.
METRICS_PORT=0 $PY manage.py worker &
worker=$!
stop_worker() {
    kill -TERM "$worker" 2>/dev/null || true
    wait "$worker" 2>/dev/null || true
}
trap stop_worker EXIT

$PY manage.py runserver "127.0.0.1:$PORT"
