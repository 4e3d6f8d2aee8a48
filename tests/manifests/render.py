"""Render the kustomize overlays and walk the objects they produce."""

from __future__ import annotations

import functools
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import yaml

from harness.paths import ROOT

HERE = Path(__file__).resolve().parent
K8S = ROOT / "deploy" / "k8s"
DOCS = ROOT / "docs" / "kubernetes.md"

# Every overlay a person deploys, plus the test-only one that enables every component.
OVERLAYS = {
    "local": K8S / "overlays" / "local",
    "production": K8S / "overlays" / "production",
    "all-components": HERE / "overlays" / "all-components",
}

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
# Custom resources: not in kubernetes-validate's schemas, checked by crd_schemas.yaml.
CRD_API_GROUPS = (
    "postgresql.cnpg.io",
    "barmancloud.cnpg.io",
    "monitoring.coreos.com",
    "keda.sh",
    "gateway.networking.k8s.io",
)


def release_version() -> str:
    """pyproject.toml's version: the tag `make image` gives the image."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def image_reference(image: str) -> tuple[str, str | None, str | None]:
    """(name, tag, digest) of `[registry[:port]/]name[:tag][@digest]`."""
    name, _, digest = image.partition("@")
    tag = None
    if ":" in name.rsplit("/", 1)[-1]:
        name, _, tag = name.rpartition(":")
    return name, tag, digest or None


def kubectl() -> str:
    found = shutil.which("kubectl") or "/usr/bin/kubectl"
    if not Path(found).exists():
        raise RuntimeError("kubectl (with its built-in kustomize) is needed to render overlays")
    return found


@functools.cache
def render(overlay: str) -> str:
    """The YAML stream `kubectl kustomize` makes of an overlay."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(OVERLAYS[overlay])],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"kubectl kustomize {overlay} failed:\n{result.stderr}")
    return result.stdout


@functools.cache
def _objects(overlay: str) -> tuple[dict, ...]:
    return tuple(doc for doc in yaml.safe_load_all(render(overlay)) if doc)


def objects(overlay: str) -> list[dict]:
    """The rendered objects (fresh copies: a test may change them)."""
    return yaml.safe_load(yaml.safe_dump(list(_objects(overlay))))


def is_custom_resource(obj: dict) -> bool:
    return obj["apiVersion"].split("/")[0] in CRD_API_GROUPS


def of_kind(objs: list[dict], kind: str) -> list[dict]:
    return [obj for obj in objs if obj["kind"] == kind]


def get(objs: list[dict], kind: str, name: str) -> dict:
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def ident(obj: dict) -> str:
    return f"{obj['kind']}/{obj['metadata'].get('namespace', '-')}/{obj['metadata']['name']}"


def pod_template(obj: dict) -> dict:
    """The pod template of a workload (CronJob: of its job template)."""
    spec = obj["spec"]
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]


def workloads(objs: list[dict]) -> list[dict]:
    return [obj for obj in objs if obj["kind"] in WORKLOAD_KINDS]


def containers(podspec: dict, *, init: bool = True) -> Iterator[dict]:
    if init:
        yield from podspec.get("initContainers", [])
    yield from podspec["containers"]


def all_containers(objs: list[dict]) -> Iterator[tuple[dict, dict, dict]]:
    """(workload, pod spec, container) for every container of every workload."""
    for obj in workloads(objs):
        podspec = pod_template(obj)["spec"]
        for container in containers(podspec):
            yield obj, podspec, container


def labels_match(selector: dict, labels: dict) -> bool:
    """Kubernetes label-selector semantics (matchLabels and matchExpressions)."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def effective_env(objs: list[dict], container: dict) -> dict[str, str | None]:
    """What the container's environment holds: ConfigMap values resolved, Secret and
    downward-API values as None (known to exist, value not in the repository)."""
    env: dict[str, str | None] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            cm = get(objs, "ConfigMap", source["configMapRef"]["name"])
            env.update(cm.get("data", {}))
    for var in container.get("env", []):
        env[var["name"]] = var.get("value")
    return env
