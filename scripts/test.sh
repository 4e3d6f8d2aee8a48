#!/usr/bin/env bash
# The whole test suite: lint, then the product on SQLite, then everything on PostgreSQL 15 and
# Redis (started here, stopped at the end), including the image, manifest and browser suites.
set -euo pipefail
cd "$(dirname "$0")/.."
V=.venv/bin

echo "== lint"
$V/ruff check .
$V/ruff format --check .

echo "== product tests on SQLite (two processes)"
DATABASE_URL= REDIS_URL= $V/pytest -q -n 2 -m "not postgres and not slow" blog ops config

echo "== manifests and alert rules, offline (two processes)"
# (tests/manifests/test_podman.py runs the local overlay in podman: with the servers, below.)
OFFLINE=(--ignore=tests/monitoring)
for f in tests/manifests/test_*.py; do
  [ "$f" = tests/manifests/test_podman.py ] || OFFLINE+=(--ignore="$f")
done
$V/pytest -q -n 2 tests/manifests tests/monitoring --ignore=tests/manifests/test_podman.py

echo "== every other suite on PostgreSQL 15 and Redis"
# The XSS corpus renders pages whose HTML does not depend on the database: it ran above.
$V/python -m harness.servers -- $V/pytest -q -m "not corpus" "${OFFLINE[@]}" "$@"
