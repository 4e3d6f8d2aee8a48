"""yamllint over the manifests and the test schemas, with the repository's .yamllint.yaml."""

import subprocess
import sys
from pathlib import Path

from harness.paths import ROOT
from tests.manifests.render import HERE, K8S

YAMLLINT = str(Path(sys.executable).parent / "yamllint")


def test_manifests_pass_yamllint():
    targets = [K8S, HERE / "overlays", HERE / "crd_schemas.yaml"]
    result = subprocess.run(
        [YAMLLINT, "--strict", "-c", str(ROOT / ".yamllint.yaml"), *map(str, targets)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
