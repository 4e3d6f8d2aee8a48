"""checkov (offline) on the rendered manifests: no finding beyond the justified skips.

checkov runs with every check enabled; deploy/k8s/checkov-skips.yaml lists the accepted
findings with their reasons and the resources they apply to. A finding not listed fails, and
so does a listed skip that no overlay produces any more.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from harness.paths import ROOT
from tests.manifests.render import K8S, OVERLAYS, render

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
SKIPS = yaml.safe_load((K8S / "checkov-skips.yaml").read_text())["skips"]


def run_checkov(manifest: Path, *extra: str) -> subprocess.CompletedProcess:
    """checkov on one Kubernetes YAML file, offline, with a JSON report on stdout."""
    ensure_checkov()
    return subprocess.run(
        [str(CHECKOV), "--framework", "kubernetes", "--file", str(manifest), "--output", "json",
         "--quiet", "--skip-download", *extra],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )  # fmt: skip


@functools.cache
def ensure_checkov() -> None:
    result = subprocess.run(
        [str(ROOT / "scripts" / "ensure-checkov.sh")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"scripts/ensure-checkov.sh failed:\n{result.stderr}"


@functools.cache
def failed_checks(overlay: str) -> tuple[tuple[str, str], ...]:
    """(check id, resource id) of every failed check for the overlay's render."""
    with tempfile.TemporaryDirectory(prefix="kubeblog-checkov-") as tmp:
        manifest = Path(tmp) / f"{overlay}.yaml"
        manifest.write_text(render(overlay))
        result = run_checkov(manifest)
    # 0: all passed, 1: some failed; anything else is checkov itself failing.
    assert result.returncode in (0, 1), result.stderr[-3000:]
    report = json.loads(result.stdout)
    if isinstance(report, list):
        report = next(r for r in report if r.get("check_type") == "kubernetes")
    if "results" not in report:  # an empty report: checkov found nothing to scan
        raise AssertionError(f"checkov scanned nothing in {overlay}: {report}")
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 100, "checkov ran suspiciously few checks"
    return tuple((f["check_id"], f["resource"]) for f in report["results"]["failed_checks"])


def skip_for(check_id: str, resource: str) -> dict | None:
    for skip in SKIPS:
        if skip["check"] == check_id and any(
            fnmatch.fnmatchcase(resource, pattern) for pattern in skip["resources"]
        ):
            return skip
    return None


def test_every_skip_has_a_reason():
    for skip in SKIPS:
        assert skip["check"].startswith("CKV"), skip
        assert skip["resources"], skip
        assert len(skip.get("reason", "")) > 40, f"{skip['check']}: say why"


def test_checkov_finds_nothing_unjustified(overlay):
    unexplained = [f for f in failed_checks(overlay) if skip_for(*f) is None]
    assert not unexplained, "checkov findings without a skip in checkov-skips.yaml:\n" + (
        "\n".join(f"  {c} {r}" for c, r in unexplained)
    )


def test_every_skip_is_still_needed():
    used = {
        (skip["check"], tuple(skip["resources"]))
        for overlay in OVERLAYS
        for finding in failed_checks(overlay)
        if (skip := skip_for(*finding))
    }
    stale = [s["check"] for s in SKIPS if (s["check"], tuple(s["resources"])) not in used]
    assert not stale, f"skips that no longer match a finding, remove them: {stale}"


@pytest.mark.parametrize("broken", ["privileged", "no-limits"])
def test_checkov_would_catch_a_regression(broken, tmp_path):
    """The scan can fail: a privileged container or one without limits is reported."""
    ensure_checkov()
    doc = yaml.safe_load(
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: probe, namespace: kubeblog}
        spec:
          containers:
            - name: c
              image: kubeblog:dev
              securityContext: {privileged: true}
        """
    )
    if broken == "no-limits":
        doc["spec"]["containers"][0]["securityContext"] = {}
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(yaml.safe_dump(doc))
    result = run_checkov(manifest, "--check", "CKV_K8S_16,CKV_K8S_13")
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    failed = {f["check_id"] for f in json.loads(result.stdout)["results"]["failed_checks"]}
    assert failed == ({"CKV_K8S_16", "CKV_K8S_13"} if broken == "privileged" else {"CKV_K8S_13"})
