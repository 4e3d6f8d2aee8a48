"""Smoke test: the web Deployment as the local overlay renders it, and the first-admin Job's
pod, played by `podman kube play` with the locally built image and a real PostgreSQL on the
host; then the worker Deployment the same way, which must become ready and, on SIGTERM, exit 0.

It runs the manifests' own init containers (migrate_locked), security context (uid 10001,
read-only root, no capabilities, no privilege escalation), ConfigMap and downward API
(POD_NAME), then checks that the web pod becomes ready and serves the home page, and that the
Job's pod makes the administrator and exits 0.

Podman (4.3 here) is not a kubelet. What it cannot do is adapted, and only that
(see `adapt_for_podman`):
 1. hostNetwork: true. The test's PostgreSQL listens on the host's 127.0.0.1 only, and
    traffic stays on loopback. So PORT and METRICS_PORT become free ports of the host.
 2. Container `ports` removed: podman refuses port mappings with host networking.
 3. Probes removed: podman runs an httpGet probe as `curl` inside the container, and the
    image has no curl. The test makes the same requests from outside.
 4. Secrets: podman does not read Kubernetes Secrets from a manifest. Each reference is
    replaced by a literal throwaway value: DJANGO_SECRET_KEY, DATABASE_URL (to the test's
    PostgreSQL, in place of the $(DATABASE_PASSWORD) composition), and DJANGO_SUPERUSER_*
    for the first-admin container, so that its create path runs.
 5. REDIS_URL and the REDIS_PASSWORD it is built from removed: the cache is optional by
    design, and no Redis runs here. The object store's key pair (from the Secret
    kubeblog-object-store) removed too: nothing here stores an image.
 6. restartPolicy: Never: podman 4.3 restarts finished init containers under "Always".
 7. One replica, a unique Deployment name, a unique name for the /tmp volume (podman makes
    a named volume of an emptyDir, and `kube down` leaves it: the test removes it), and the
    image tag `dev` (what scripts/build-image.sh builds). The two pods share the volume.
 8. The first-admin Job, as the all-components test overlay renders it (the deployable
    overlays add its component only for a first deploy), is played as a bare Pod of its pod
    template (podman 4.3 has no Jobs), reading the played ConfigMap.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
import uuid

import psycopg
import pytest
import yaml

from harness.http import http_get
from harness.podman import podman
from harness.servers import PostgresServer, free_port
from tests.manifests.render import get, objects, pod_template, release_version

pytestmark = [pytest.mark.image, pytest.mark.slow]

IMAGE = "kubeblog:dev"
READY_TIMEOUT = 90.0
LOCALHOST = {"Host": "localhost"}  # in the overlay's ALLOWED_HOSTS
PROBE_HOST = {"Host": "10.0.0.1"}  # what the kubelet sends: the pod's IP
# Variables from Secrets podman cannot read (4), the optional cache and the object store's
# keys (5).
DROPPED_VARIABLES = {
    "DATABASE_PASSWORD",
    "DATABASE_URL",
    "REDIS_PASSWORD",
    "REDIS_URL",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
}


def adapt_for_podman(
    *,
    name: str,
    volume: str,
    database_url: str,
    port: int,
    metrics_port: int,
    admin: dict[str, str],
) -> list[dict]:
    """The local overlay's web Deployment and its ConfigMap, and the first-admin Job's pod,
    adapted as the docstring says."""
    objs = objects("local")
    deployment = get(objs, "Deployment", "web")
    podspec = pod_template(deployment)["spec"]
    config_name = podspec["containers"][0]["envFrom"][0]["configMapRef"]["name"]
    config = get(objs, "ConfigMap", config_name)
    config["data"].update(PORT=str(port), METRICS_PORT=str(metrics_port))  # 1
    deployment["metadata"]["name"] = name  # 7
    deployment["spec"]["replicas"] = 1  # 7
    job = get(objects("all-components"), "Job", "first-admin")
    admin_pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"{name}-admin"}}  # 8
    admin_pod["spec"] = pod_template(job)["spec"]

    adapt_podspec(podspec, volume=volume, config_name=config_name, database_url=database_url)
    adapt_podspec(
        admin_pod["spec"],
        volume=volume,
        config_name=config_name,
        database_url=database_url,
        extra={"first-admin": admin},
    )
    return [config, deployment, admin_pod]


def adapt_podspec(
    spec: dict,
    *,
    volume: str,
    config_name: str,
    database_url: str,
    extra: dict[str, dict[str, str]] | None = None,
) -> None:
    """Changes 1-7 of the docstring to one pod spec; `extra`: more literal variables for the
    container of that name."""
    spec["hostNetwork"] = True  # 1
    spec["restartPolicy"] = "Never"  # 6
    (tmp,) = spec["volumes"]
    tmp["name"] = volume  # 7
    for container in [*spec.get("initContainers", []), *spec["containers"]]:
        assert container["image"].startswith("kubeblog:")
        container["image"] = IMAGE  # 7
        container.pop("ports", None)  # 2
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):  # 3
            container.pop(probe, None)
        for mount in container.get("volumeMounts", []):
            mount["name"] = volume  # 7
        # Secrets dropped (4); the ConfigMap is the played one (8).
        container["envFrom"] = [{"configMapRef": {"name": config_name}}]
        env = [var for var in container.get("env", []) if var["name"] not in DROPPED_VARIABLES]
        env.append({"name": "DJANGO_SECRET_KEY", "value": "kube-play-test-only-" + "x" * 40})
        env.append({"name": "DATABASE_URL", "value": database_url})
        env += [
            {"name": k, "value": v} for k, v in (extra or {}).get(container["name"], {}).items()
        ]
        container["env"] = env


def adapt_worker_for_podman(
    *, name: str, volume: str, database_url: str, metrics_port: int
) -> list[dict]:
    """The local overlay's worker Deployment and its ConfigMap, adapted as for the web pod
    (1-7): METRICS_PORT a free port of the host."""
    objs = objects("local")
    deployment = get(objs, "Deployment", "worker")
    podspec = pod_template(deployment)["spec"]
    config_name = podspec["containers"][0]["envFrom"][0]["configMapRef"]["name"]
    config = get(objs, "ConfigMap", config_name)
    config["metadata"]["name"] = config_name = f"{name}-config"
    config["data"].update(METRICS_PORT=str(metrics_port))  # 1
    deployment["metadata"]["name"] = name  # 7
    deployment["spec"]["replicas"] = 1  # 7
    adapt_podspec(podspec, volume=volume, config_name=config_name, database_url=database_url)
    return [config, deployment]


def wait_ready(port: int) -> bytes:
    """Poll /readyz on the port, as the kubelet would, until it answers 200; its body."""
    status, body = 0, b""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            status, _, body = http_get(port, "/readyz", PROBE_HOST, timeout=10)
            if status == 200:
                return body
        time.sleep(0.5)
    raise AssertionError(f"/readyz never answered 200: {status} {body[:300]!r}")


@pytest.fixture(scope="module")
def podman_ready():
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (scripts/system-deps.sh image installs it)")
    if podman("image", "exists", IMAGE, check=False).returncode != 0:
        pytest.skip(f"image {IMAGE} not built: run `make image` (scripts/build-image.sh) first")


def test_local_web_deployment_plays_in_podman(podman_ready, tmp_path):
    run = uuid.uuid4().hex[:8]
    name, volume = f"kubeblog-play-{run}", f"kubeblog-play-tmp-{run}"
    port, metrics_port = free_port(), free_port()
    admin = {
        "DJANGO_SUPERUSER_USERNAME": "admin",
        "DJANGO_SUPERUSER_PASSWORD": "kube-play-" + uuid.uuid4().hex,
        "DJANGO_SUPERUSER_EMAIL": "admin@example.com",
    }
    manifest = tmp_path / "web.yaml"
    with PostgresServer() as pg:
        manifest.write_text(
            yaml.safe_dump_all(
                adapt_for_podman(
                    name=name,
                    volume=volume,
                    database_url=pg.url,
                    port=port,
                    metrics_port=metrics_port,
                    admin=admin,
                )
            )
        )
        try:
            podman("kube", "play", str(manifest))
            body = wait_ready(port)
            assert json.loads(body)["migrations"] == "ok", "the migrate init container ran"

            # Probes answer with any Host header, over plain HTTP, no redirect; liveness on
            # the metrics port, from the gunicorn master (the manifests' livenessProbe).
            status, _, health = http_get(metrics_port, "/healthz", PROBE_HOST, timeout=10)
            assert status == 200 and json.loads(health)["workers"] > 0, health
            status, _, page = http_get(port, "/", LOCALHOST, timeout=10)
            assert status == 200 and b"<html" in page.lower()
            status, _, who = http_get(port, "/whoami", LOCALHOST, timeout=10)
            identity = json.loads(who)
            assert identity["replica"].startswith(name), "POD_NAME from the downward API"
            assert identity["version"] == release_version() and identity["color"] == "orange"
            metrics = http_get(metrics_port, "/metrics", timeout=10)[2]
            assert b"kubeblog_http_requests_total" in metrics

            # The first-admin pod: `podman wait` returns when it has exited, with its code.
            admin_ctr = f"{name}-admin-first-admin"
            exit_code = podman("wait", admin_ctr, timeout=READY_TIMEOUT).stdout.strip()
            admin_logs = podman("logs", admin_ctr).stdout
            assert exit_code == "0", admin_logs[-2000:]
            assert "ensure_superuser: admin created" in admin_logs
            with psycopg.connect(pg.url) as db:
                row = db.execute(
                    "SELECT is_superuser FROM auth_user WHERE username = %s",
                    [admin["DJANGO_SUPERUSER_USERNAME"]],
                ).fetchone()
            assert row == (True,), "the first-admin Job's pod made the admin"

            # What podman applied from the pod's security context.
            web_ctr = f"{identity['replica']}-web"
            info = json.loads(podman("inspect", web_ctr).stdout)[0]
            assert info["HostConfig"]["ReadonlyRootfs"] is True
            assert info["Config"]["User"].split(":")[0] == "10001"
            assert "no-new-privileges" in info["HostConfig"]["SecurityOpt"]
            assert not info["HostConfig"]["CapAdd"]
            played = podman("logs", web_ctr)
            logs = played.stdout + played.stderr
            lines = [line for line in logs.splitlines() if line.startswith("{")]
            assert lines and all(json.loads(line) for line in lines), "JSON lines on stdout"
        finally:
            podman("kube", "down", str(manifest), check=False)
            podman("volume", "rm", "--force", volume, check=False)


def test_local_worker_deployment_plays_in_podman(podman_ready, tmp_path):
    """The worker pod as the local overlay renders it (the web pod's migrate init container,
    then `python manage.py worker`) becomes ready on its metrics port, reports the queue,
    and on SIGTERM (`podman stop`, as the kubelet sends it) exits 0 within its grace period."""
    run = uuid.uuid4().hex[:8]
    name, volume = f"kubeblog-play-worker-{run}", f"kubeblog-play-worker-tmp-{run}"
    metrics_port = free_port()
    manifest = tmp_path / "worker.yaml"
    objs = objects("local")
    grace = pod_template(get(objs, "Deployment", "worker"))["spec"]["terminationGracePeriodSeconds"]
    with PostgresServer() as pg:
        manifest.write_text(
            yaml.safe_dump_all(
                adapt_worker_for_podman(
                    name=name, volume=volume, database_url=pg.url, metrics_port=metrics_port
                )
            )
        )
        try:
            podman("kube", "play", str(manifest))
            wait_ready(metrics_port)
            status, _, _ = http_get(metrics_port, "/healthz", PROBE_HOST, timeout=10)
            assert status == 200, "liveness on the metrics port"
            metrics = http_get(metrics_port, "/metrics", timeout=10)[2].decode()
            assert 'kubeblog_tasks{state="ready"}' in metrics, metrics[:2000]
            with psycopg.connect(pg.url) as db:
                (migrated,) = db.execute(
                    "SELECT count(*) FROM django_migrations WHERE app = 'django_tasks_database'"
                ).fetchone()
            assert migrated > 0, "the migrate init container ran before the worker"

            (pod,) = json.loads(
                podman("pod", "ps", "--format", "json", "--filter", f"name={name}").stdout
            )
            worker_ctr = f"{pod['Name']}-worker"
            started = time.monotonic()
            podman("stop", "--time", str(grace), worker_ctr, timeout=grace + 30)
            stopped_after = time.monotonic() - started
            info = json.loads(podman("inspect", worker_ctr).stdout)[0]
            logs = podman("logs", worker_ctr)
            assert info["State"]["ExitCode"] == 0, (logs.stdout + logs.stderr)[-2000:]
            assert stopped_after < grace, "stopped by SIGTERM, not by the SIGKILL after"
            assert info["HostConfig"]["ReadonlyRootfs"] is True
            assert info["Config"]["User"].split(":")[0] == "10001"
        finally:
            podman("kube", "down", str(manifest), check=False)
            podman("volume", "rm", "--force", volume, check=False)
