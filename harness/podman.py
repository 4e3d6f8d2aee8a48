"""podman as the tests, the drill and the benchmark run it: with the project's containers.conf,
kubeblog:dev built from the working tree, and containers restricted as Kubernetes runs pods."""

from __future__ import annotations

import os
import subprocess

from harness.paths import CONTAINERS_CONF, ROOT

# What Kubernetes' restricted Pod Security asks for, said to podman, on the host's network: the
# throwaway PostgreSQL and Redis listen on 127.0.0.1 only, which a container in its own network
# namespace could not reach, so each container is given free ports of the host instead.
RESTRICTED = [
    "--cap-drop=ALL",
    "--security-opt",
    "no-new-privileges",
    "--user",
    "10001",
    "--tmpfs",
    "/tmp",  # noqa: S108 - the container's own tmpfs, not the host's /tmp
    "--network",
    "host",
]


class PodmanError(RuntimeError):
    """A podman command that was expected to succeed did not."""


def _environment() -> dict[str, str]:
    env = {**os.environ}
    env.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
    return env


def podman(*args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run podman with the project's containers.conf unless CONTAINERS_CONF says otherwise."""
    result = subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, env=_environment()
    )
    if check and result.returncode != 0:
        raise PodmanError(
            f"podman {' '.join(args[:4])} ... exited {result.returncode}: "
            f"{result.stderr.strip()[-1500:]}"
        )
    return result


def build_image(version: str, timeout: float = 900) -> None:
    """kubeblog:dev (and kubeblog:<version>) from the working tree, by scripts/build-image.sh
    with podman; seconds when the layer cache is warm, minutes on a fresh machine."""
    result = subprocess.run(
        [str(ROOT / "scripts" / "build-image.sh"), version],
        cwd=ROOT,
        env={**_environment(), "CONTAINER_ENGINE": "podman"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise PodmanError(
            f"scripts/build-image.sh {version} exited {result.returncode}:\n"
            f"{(result.stdout + result.stderr)[-4000:]}"
        )


def env_args(env: dict[str, str]) -> list[str]:
    """`-e NAME=value` for each variable, for `podman run`."""
    return [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
