"""Where things are: the repository, its build output, and the files the harness runs with."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"  # generated output: figures, reports, screenshots, static files
CONTAINERS_CONF = ROOT / "deploy" / "local" / "containers.conf"


def project_version() -> str:
    """The version pyproject.toml gives the project (and the image its label)."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
