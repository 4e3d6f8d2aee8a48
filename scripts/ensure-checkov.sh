#!/usr/bin/env bash
# Install checkov into its own virtualenv, .venv-checkov/, once.
# Its dependency tree is large and pins versions that clash with the app's, so it never
# shares the dev venv. Idempotent: does nothing when the pinned version is already there.
# Prints nothing on success; on failure shows pip's output and exits non-zero.
# Used by the manifest tests (tests/manifests) and the image tests (Dockerfile scan).
set -euo pipefail

CHECKOV_VERSION=3.3.30
cd "$(dirname "$0")/.."
venv=.venv-checkov
stamp="$venv/.installed-$CHECKOV_VERSION"

[[ -x "$venv/bin/checkov" && -f "$stamp" ]] && exit 0

# Two test suites may call this at once: the second waits, then finds the work done.
exec 9<"$0"
flock 9
[[ -x "$venv/bin/checkov" && -f "$stamp" ]] && exit 0

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! {
    rm -rf "$venv" &&
        "${PYTHON:-python3}" -m venv "$venv" &&
        "$venv/bin/pip" install -q --disable-pip-version-check "checkov==$CHECKOV_VERSION" &&
        "$venv/bin/checkov" --version
} >"$log" 2>&1; then
    cat "$log" >&2
    echo "ensure-checkov: installing checkov $CHECKOV_VERSION into $venv failed" >&2
    exit 1
fi
touch "$stamp"
