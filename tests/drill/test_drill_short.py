"""The short drill, inside `make test`: every scenario of the full drill with shorter waits.

It runs `python -m tests.drill --short` in its own process (its threads, signals and clean-up
stay out of pytest's) and reads the report it writes to build/drill-short/. kubeblog:dev is
reused when it was built from this commit, built otherwise (tests/drill/stack.py).
"""

import json
import shutil
import subprocess
import sys
import time

import pytest

from harness.paths import BUILD, ROOT
from harness.report import Figures
from tests.drill.haproxy import CONFIG, config_env
from tests.drill.plan import SHORT
from tests.drill.report import table

OUT = BUILD / "drill-short"
SUMMARY = Figures("kubeblog drill (short)")


def pytest_terminal_summary(terminalreporter) -> None:  # called from tests/drill/conftest.py
    SUMMARY.write(terminalreporter)


def test_haproxy_configuration_is_valid(tmp_path):
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed (scripts/system-deps.sh drill installs it)")
    env = config_env(18080, tmp_path / "admin.sock")
    result = subprocess.run(
        ["haproxy", "-c", "-f", str(CONFIG)], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Warnings would mean HAProxy ignores part of what the drill relies on.
    assert "WARNING" not in result.stdout + result.stderr, result.stdout + result.stderr


@pytest.mark.slow
def test_short_drill_passes_every_scenario():
    for tool in ("podman", "haproxy"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (scripts/system-deps.sh drill installs it)")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "tests.drill", "--short", "--out", str(OUT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    took = time.monotonic() - started
    output = (result.stdout + result.stderr)[-6000:]
    report_path = OUT / "report.json"
    assert report_path.exists(), f"the drill wrote no report (exit {result.returncode}):\n{output}"
    report = json.loads(report_path.read_text())
    SUMMARY.add(table(report))
    SUMMARY.add(f"short drill: {took:.0f} s with the image build if any")
    failed = {
        f"{s['number']}. {s['name']}": [c["check"] for c in s["checks"] if not c["passed"]]
        + ([s["error"].strip().splitlines()[-1]] if s["error"] else [])
        for s in report["scenarios"]
        if not s["passed"]
    }
    assert report["error"] is None, report["error"]
    assert [s["number"] for s in report["scenarios"]] == sorted(SHORT)
    assert not failed, f"scenarios failed: {json.dumps(failed, indent=1)}\n{output}"
    assert report["passed"] and result.returncode == 0, output
