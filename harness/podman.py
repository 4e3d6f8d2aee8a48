"""podman as the tests, the drill and the benchmark run it: with the project's containers.conf."""

from __future__ import annotations

import os
import subprocess

from harness.paths import CONTAINERS_CONF


class PodmanError(RuntimeError):
    """A podman command that was expected to succeed did not."""


def podman(*args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run podman with the project's containers.conf unless CONTAINERS_CONF says otherwise."""
    env = {**os.environ}
    env.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
    result = subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, env=env
    )
    if check and result.returncode != 0:
        raise PodmanError(
            f"podman {' '.join(args[:4])} ... exited {result.returncode}: "
            f"{result.stderr.strip()[-1500:]}"
        )
    return result
