"""Policy checks on the rendered objects of every overlay: what a reviewer would check by eye.

Each test reads real rendered content; tests at the bottom show that the detectors fire.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from config.env import DECLARED, VARIABLES
from ops.master import PATHS as MASTER_PATHS
from tests.manifests.render import (
    DOCS,
    K8S,
    all_containers,
    containers,
    effective_env,
    get,
    ident,
    image_reference,
    labels_match,
    objects,
    of_kind,
    pod_template,
    release_version,
    workloads,
)

APP_IMAGE = "kubeblog"

# Pod templates allowed to depart from Pod Security "restricted", and why. They still drop
# every capability, forbid privilege escalation and keep a read-only root filesystem.
RESTRICTED_EXCEPTIONS = {
    ("DaemonSet", "fluent-bit"): "reads the node's root-owned log files through hostPath; "
    "runs in its own namespace (see deploy/k8s/checkov-skips.yaml)",
}

# Selector keys that name what a pod is, and never change over its life.
STABLE_SELECTOR_KEYS = {
    "app.kubernetes.io/name",
    "app.kubernetes.io/component",
    "cnpg.io/cluster",
    "cnpg.io/poolerName",
    "k8s-app",
}

# Every Secret any overlay refers to: who makes it, which keys it may hold, which of them the
# app cannot start without. docs/kubernetes.md must name each one.
DOCUMENTED_SECRETS = {
    "kubeblog-app": {
        "origin": "operator of the site (kubectl create secret, from app.secret.env)",
        "keys": {
            "DJANGO_SECRET_KEY",
            "DJANGO_SECRET_KEY_FALLBACKS",
            "DATABASE_URL",
            "REDIS_URL",
            "EMAIL_HOST_PASSWORD",
            # Optional: left out, the SDK's own chain (IRSA, workload identity) answers.
            "S3_ACCESS_KEY_ID",
            "S3_SECRET_ACCESS_KEY",
        },
        "required": {"DJANGO_SECRET_KEY"},
    },
    "kubeblog-admin": {
        "origin": "operator of the site, optional (first administrator)",
        "keys": {
            "DJANGO_SUPERUSER_USERNAME",
            "DJANGO_SUPERUSER_PASSWORD",
            "DJANGO_SUPERUSER_EMAIL",
        },
        "required": set(),
    },
    "kubeblog-postgres": {
        "origin": "operator of the site (postgres component)",
        "keys": {"password"},
        "required": {"password"},
    },
    "kubeblog-redis": {
        "origin": "operator of the site (redis component)",
        "keys": {"password"},
        "required": {"password"},
    },
    "kubeblog-object-store": {
        "origin": "operator of the site (object-store component)",
        "keys": {"access_key_id", "secret_access_key"},
        "required": {"access_key_id", "secret_access_key"},
    },
    "kubeblog-db-app": {
        "origin": "the CloudNativePG operator (bootstrap.initdb owner)",
        "keys": {"username", "password", "host", "port", "dbname", "uri", "pgpass"},
        "required": {"password"},
    },
    "kubeblog-backup-s3": {
        "origin": "operator of the site (object storage credentials)",
        "keys": {"ACCESS_KEY_ID", "ACCESS_SECRET_KEY"},
        "required": {"ACCESS_KEY_ID", "ACCESS_SECRET_KEY"},
    },
    "kubeblog-tls": {
        "origin": "cert-manager (Ingress annotation; with a Gateway, in the Gateway's namespace)",
        "keys": {"tls.crt", "tls.key"},
        "required": set(),
    },
}

SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|CREDENTIAL|(^|_)KEY($|_)", re.IGNORECASE)
# scheme://[user]:password@ where the password is not a $(VAR) reference.
URL_WITH_PASSWORD = re.compile(r"://[^/\s:@]*:(?!\$\()[^@\s/]+@")
VAR_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
SHUTDOWN_MARGIN_SECONDS = 5
# The app's deadline for one request, and PostgreSQL's statement_timeout for its role: the
# budget table in docs/operations.md "Deadlines". Every hop below the app gives up first.
REQUEST_DEADLINE_SECONDS = 5
STATEMENT_TIMEOUT_SECONDS = 3
# PgBouncer's parameters that bound a wait on PostgreSQL, with their unit in seconds.
PGBOUNCER_DEADLINES = {
    "query_timeout": 1,
    "query_wait_timeout": 1,
    "server_connect_timeout": 1,
    "server_login_retry": 1,
    "tcp_user_timeout": 0.001,
}
# PostgreSQL's durability settings (CloudNativePG Cluster) and the values that keep a
# commit durable, here and on the synchronous standby.
DURABILITY_PARAMETERS = {
    "fsync": {"on"},
    "full_page_writes": {"on"},
    "synchronous_commit": {"on", "remote_apply"},
}
# CloudNativePG's defaults, for a Cluster that leaves them out.
SMART_SHUTDOWN_DEFAULT, STOP_DELAY_DEFAULT, SWITCHOVER_DELAY_DEFAULT = 180, 1800, 3600
# PgBouncer's TCP keepalives on its idle server connections: a vanished primary is noticed
# within this many seconds.
PGBOUNCER_KEEPALIVE_SECONDS = 30
# Redis's maxmemory may take at most this share of its container's memory limit.
REDIS_MAXMEMORY_SHARE = 0.75
ENDPOINT_PROPAGATION_SECONDS = 5


def app_containers(objs):
    for obj, podspec, container in all_containers(objs):
        if image_reference(container["image"])[0].rsplit("/", 1)[-1] == APP_IMAGE:
            yield obj, podspec, container


def web(objs) -> dict:
    return get(objs, "Deployment", "web")


def web_container(objs) -> dict:
    return next(c for c in pod_template(web(objs))["spec"]["containers"] if c["name"] == "web")


def worker(objs) -> dict:
    return get(objs, "Deployment", "worker")


def worker_container(objs) -> dict:
    (container,) = pod_template(worker(objs))["spec"]["containers"]
    return container


def housekeeping(objs) -> dict:
    return get(objs, "CronJob", "housekeeping")


def hpa_for(objs, deployment: str) -> dict | None:
    """The HorizontalPodAutoscaler that scales the Deployment, if any."""
    found = [
        h
        for h in of_kind(objs, "HorizontalPodAutoscaler")
        if h["spec"]["scaleTargetRef"]["name"] == deployment
    ]
    assert len(found) <= 1, f"{len(found)} HPAs scale {deployment}"
    return found[0] if found else None


def required_settings() -> set[str]:
    """Variables declared with no default (config/env.py): production stops without them."""
    return {variable.name for variable in VARIABLES if variable.required}


def secret_references(objs) -> list[tuple[str, str | None, bool, str]]:
    """(secret name, key or None for all keys, optional, where) for every reference."""
    refs = []
    for obj, podspec, container in all_containers(objs):
        where = f"{ident(obj)} container {container['name']}"
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                ref = source["secretRef"]
                refs.append((ref["name"], None, ref.get("optional", False), where))
        for var in container.get("env", []):
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                refs.append((ref["name"], ref["key"], ref.get("optional", False), where))
        for volume in podspec.get("volumes", []):
            if "secret" in volume:
                refs.append((volume["secret"]["secretName"], None, False, where))
    for ingress in of_kind(objs, "Ingress"):
        for tls in ingress["spec"].get("tls", []):
            refs.append((tls["secretName"], None, False, ident(ingress)))
    for store in of_kind(objs, "ObjectStore"):
        for ref in store["spec"]["configuration"].get("s3Credentials", {}).values():
            if isinstance(ref, dict):
                refs.append((ref["name"], ref["key"], False, ident(store)))
    return refs


def seconds_set_or_default(env: dict[str, str | None], name: str) -> int:
    """A variable as the container gets it, else its default declared in config/env.py."""
    value = env.get(name)
    return int(DECLARED[name].default if value is None else value)


def sleep_seconds(prestop: dict) -> int:
    """The wait a preStop hook makes: native sleep, or exec of `sleep N`."""
    if "sleep" in prestop:
        return int(prestop["sleep"]["seconds"])
    command = prestop["exec"]["command"]
    match = re.fullmatch(r"(?:.*\s)?sleep (\d+)", " ".join(command))
    assert match, f"cannot read a sleep from preStop {command}"
    return int(match.group(1))


def quantity_bytes(quantity: str) -> int:
    """A Kubernetes memory quantity (`192Mi`, `1G`, `1048576`) in bytes."""
    number, unit = re.fullmatch(r"(\d+)([KMGT]i?|k)?", str(quantity)).groups()
    powers = {"k": 1000, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4}
    powers |= {f"{u}i": 1024 ** (i + 1) for i, u in enumerate("KMGT")}
    return int(number) * powers.get(unit or "", 1)


def redis_bytes(size: str) -> int:
    """A Redis memory size (`128mb`, `1gb`, `100m`) in bytes: `mb` is 1024², `m` 1000²."""
    number, unit = re.fullmatch(r"(\d+)([kmg]b?)?", size.lower()).groups()
    powers = {"k": 1000, "m": 1000**2, "g": 1000**3, "kb": 1024, "mb": 1024**2, "gb": 1024**3}
    return int(number) * powers.get(unit or "", 1)


def set_or_delete(node: dict, path: str, value) -> None:
    """Set the field at the dotted `path` below `node` to `value`; None deletes it."""
    *parents, name = path.split(".")
    for parent in parents:
        node = node[parent]
    if value is None:
        del node[name]
    else:
        node[name] = value


def nginx_directives(conf: str) -> dict[str, list[list[str]]]:
    """The arguments of every use of each directive in an nginx configuration. A plain
    split on `;`, `{` and `}`: enough for the unquoted directives checked here."""
    found: dict[str, list[list[str]]] = {}
    for statement in re.split(r"[;{}]", re.sub(r"#[^\n]*", "", conf)):
        if words := statement.split():
            found.setdefault(words[0], []).append(words[1:])
    return found


def nginx_seconds(value: str) -> float:
    """An nginx time (`10s`, `2m`, `500ms`, `1h`, `2d`) in seconds."""
    number, unit = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", value).groups()
    return int(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit or "s"]


def nginx_bytes(value: str) -> int:
    """An nginx size (`256m`, `10k`, `1g`) in bytes; its units are binary."""
    number, unit = re.fullmatch(r"(\d+)([kKmMgG])?", value).groups()
    return int(number) * 1024 ** (" kmg".index(unit.lower()) if unit else 0)


def edge_cache(objs) -> tuple[dict, dict[str, list[list[str]]]]:
    """The edge cache's pod spec, and the directives of the nginx.conf it mounts."""
    podspec = pod_template(get(objs, "Deployment", "edge-cache"))["spec"]
    (config,) = [v["configMap"]["name"] for v in podspec["volumes"] if "configMap" in v]
    return podspec, nginx_directives(get(objs, "ConfigMap", config)["data"]["nginx.conf"])


def redis_option(container: dict, name: str) -> str:
    """The value given to redis-server's `--name` in the container's args."""
    args = container["args"]
    return args[args.index(f"--{name}") + 1]


# --- Pod Security, resources, probes ---------------------------------------------------


def test_every_container_has_requests_and_limits(objs):
    for obj, _, container in all_containers(objs):
        resources = container.get("resources", {})
        for bound in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                assert resource in resources.get(bound, {}), (
                    f"{ident(obj)} {container['name']}: no {bound}.{resource}"
                )
    for pooler in of_kind(objs, "Pooler"):
        for container in pooler["spec"]["template"]["spec"]["containers"]:
            assert set(container["resources"]) == {"requests", "limits"}


def test_long_running_containers_have_probes(objs):
    for obj in workloads(objs):
        if obj["kind"] in ("Job", "CronJob"):
            continue
        for container in pod_template(obj)["spec"]["containers"]:
            for probe in ("livenessProbe", "readinessProbe"):
                assert probe in container, f"{ident(obj)} {container['name']}: no {probe}"
    assert "startupProbe" in web_container(objs)


def test_pod_security_restricted(objs):
    for obj in workloads(objs):
        podspec = pod_template(obj)["spec"]
        exception = (obj["kind"], obj["metadata"]["name"]) in RESTRICTED_EXCEPTIONS
        pod_sc = podspec.get("securityContext", {})
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            assert not podspec.get(flag), f"{ident(obj)}: {flag}"
        if not exception:
            assert pod_sc.get("runAsNonRoot") is True, ident(obj)
            assert isinstance(pod_sc.get("runAsUser"), int), ident(obj)
            assert pod_sc["runAsUser"] >= 10000, f"{ident(obj)}: a high, numeric UID"
            assert not any("hostPath" in v for v in podspec.get("volumes", [])), ident(obj)
        for container in containers(podspec):
            where = f"{ident(obj)} container {container['name']}"
            sc = container.get("securityContext", {})
            seccomp = sc.get("seccompProfile") or pod_sc.get("seccompProfile")
            assert seccomp == {"type": "RuntimeDefault"}, where
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert sc.get("readOnlyRootFilesystem") is True, where
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
            assert not sc.get("capabilities", {}).get("add"), where
            assert not sc.get("privileged"), where
            if not exception:
                assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, where
                uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
                assert isinstance(uid, int) and uid >= 10000, where


def test_app_namespace_enforces_restricted(overlay, objs):
    namespaces = {ns["metadata"]["name"]: ns for ns in of_kind(objs, "Namespace")}
    for obj in workloads(objs):
        ns = namespaces.get(obj["metadata"]["namespace"])
        if ns is None:
            assert overlay == "all-components", f"{ident(obj)}: its Namespace is not rendered"
            continue
        level = ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        exception = (obj["kind"], obj["metadata"]["name"]) in RESTRICTED_EXCEPTIONS
        assert level == ("privileged" if exception else "restricted"), ident(obj)


def test_web_pods_have_a_writable_tmp_only(objs):
    for _, podspec, container in app_containers(objs):
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        assert set(mounts) == {"/tmp"}
        volume = next(v for v in podspec["volumes"] if v["name"] == mounts["/tmp"])
        assert "emptyDir" in volume and "sizeLimit" in volume["emptyDir"]


def test_service_accounts_mount_no_token(objs):
    accounts = {sa["metadata"]["name"]: sa for sa in of_kind(objs, "ServiceAccount")}
    for obj in workloads(objs):
        podspec = pod_template(obj)["spec"]
        name = podspec.get("serviceAccountName")
        assert name and name != "default", f"{ident(obj)}: its own ServiceAccount"
        assert name in accounts, f"{ident(obj)}: ServiceAccount {name} is not rendered"
        if (obj["kind"], obj["metadata"]["name"]) in RESTRICTED_EXCEPTIONS:
            continue
        assert podspec.get("automountServiceAccountToken") is False, ident(obj)
        assert accounts[name].get("automountServiceAccountToken") is False, name


# --- rollout, scaling, disruption, shutdown -------------------------------------------------


def test_web_rolls_out_without_losing_capacity(objs):
    spec = web(objs)["spec"]
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    assert spec["minReadySeconds"] > 0
    assert spec["progressDeadlineSeconds"] >= 300


def test_web_init_containers_migrate_under_the_lock(objs):
    podspec = pod_template(web(objs))["spec"]
    (migrate,) = podspec["initContainers"]
    assert migrate["name"] == "migrate"
    assert migrate["command"][:3] == ["python", "manage.py", "migrate_locked"]
    assert "command" not in web_container(objs), "the image's gunicorn command runs as is"


def test_worker_runs_the_web_pods_setup(objs):
    """The worker Deployment runs `python manage.py worker` from the web pods' image, after
    their init containers (migrate_locked, so new code never meets an old schema), with the
    web container's whole environment: the same ConfigMap and Secret, the same database
    (through PgBouncer where the web pods use it) and cache."""
    podspec = pod_template(worker(objs))["spec"]
    container = worker_container(objs)
    assert container["command"] == ["python", "manage.py", "worker"]
    assert container["image"] == web_container(objs)["image"]
    assert podspec["initContainers"] == pod_template(web(objs))["spec"]["initContainers"]
    assert container["envFrom"] == web_container(objs)["envFrom"]
    assert container["env"] == web_container(objs)["env"]
    assert secret_references_of(container) == secret_references_of(web_container(objs))


def secret_references_of(container: dict) -> list[tuple[str, str | None]]:
    """The Secrets (and keys) a container's environment comes from."""
    refs = [(s["secretRef"]["name"], None) for s in container["envFrom"] if "secretRef" in s]
    for var in container.get("env", []):
        if ref := var.get("valueFrom", {}).get("secretKeyRef"):
            refs.append((ref["name"], ref["key"]))
    return refs


def test_worker_probes_reach_its_metrics_port(objs):
    """Liveness (/healthz: the loop turns, or its task is within TASK_TIME_LIMIT) and
    readiness (/readyz: from the first turn until SIGTERM) on METRICS_PORT, where the worker's
    own server answers (ops/worker.py); a startup probe covers a slow start."""
    container = worker_container(objs)
    env = effective_env(objs, container)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": int(env["METRICS_PORT"])}, "the metrics port only"
    expected = {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    for probe, path in expected.items():
        http = container[probe]["httpGet"]
        assert (http["port"], http["path"]) == ("metrics", path), f"worker {probe} {http}"
        assert path in MASTER_PATHS
    assert not of_kind_selecting(objs, "Service", worker(objs)), "no Service sends it work"


def of_kind_selecting(objs, kind: str, workload: dict) -> list[dict]:
    labels = pod_template(workload)["metadata"]["labels"]
    return [
        o
        for o in of_kind(objs, kind)
        if labels_match({"matchLabels": o["spec"]["selector"]}, labels)
    ]


def housekeeping_runs_hourly_alone_and_bounded(objs) -> None:
    """The housekeeping CronJob: hourly, never two at once, a run that cannot start in time
    is skipped, each run ends within the hour, a few retries, old Jobs cleaned up; the
    migrate init container's database environment (direct to PostgreSQL)."""
    cronjob = housekeeping(objs)
    spec = cronjob["spec"]
    minute, hour, *rest = spec["schedule"].split()
    assert minute.isdigit() and hour == "*" and rest == ["*", "*", "*"], "hourly"
    assert spec["concurrencyPolicy"] == "Forbid", "concurrencyPolicy"
    assert 0 < spec["startingDeadlineSeconds"] < 3600, "startingDeadlineSeconds"
    assert 0 < spec["successfulJobsHistoryLimit"] <= 5
    assert 0 < spec["failedJobsHistoryLimit"] <= 5
    job = spec["jobTemplate"]["spec"]
    assert 0 < job["activeDeadlineSeconds"] < 3600, "activeDeadlineSeconds"
    assert 0 < job["backoffLimit"] <= 5, "backoffLimit"
    assert job["ttlSecondsAfterFinished"] > 0, "ttlSecondsAfterFinished"
    podspec = job["template"]["spec"]
    assert podspec["restartPolicy"] in ("Never", "OnFailure")
    (container,) = podspec["containers"]
    assert container["command"] == ["python", "manage.py", "housekeeping"]
    assert container["image"] == web_container(objs)["image"]
    assert container["envFrom"] == web_container(objs)["envFrom"]
    (migrate,) = pod_template(web(objs))["spec"]["initContainers"]
    env = {v["name"]: v for v in container["env"] if v["name"] != "APP_VERSION"}
    assert env == {v["name"]: v for v in migrate["env"]}, "the migrations' database env"


def test_housekeeping_runs_hourly_alone_and_bounded(objs):
    housekeeping_runs_hourly_alone_and_bounded(objs)


@pytest.mark.parametrize(
    ("path", "value", "complaint"),
    [
        ("concurrencyPolicy", "Allow", "concurrencyPolicy"),
        ("startingDeadlineSeconds", 7200, "startingDeadlineSeconds"),
        ("jobTemplate.spec.activeDeadlineSeconds", 0, "activeDeadlineSeconds"),
        ("jobTemplate.spec.ttlSecondsAfterFinished", None, "ttlSecondsAfterFinished"),
    ],
)
def test_housekeeping_check_would_fail(path, value, complaint):
    objs = objects("local")
    set_or_delete(housekeeping(objs)["spec"], path, value)
    with pytest.raises((AssertionError, KeyError), match=complaint):
        housekeeping_runs_hourly_alone_and_bounded(objs)


def test_mail_settings_reach_the_worker(overlay, objs):
    """EMAIL_HOST (required in production) comes from the ConfigMap, the relay's password
    only from the Secret kubeblog-app (an optional key); the local overlay logs mail."""
    env = effective_env(objs, worker_container(objs))
    assert env["EMAIL_HOST"], "EMAIL_HOST"
    assert "EMAIL_HOST_PASSWORD" not in env, "the relay's password belongs in the Secret"
    assert "EMAIL_HOST_PASSWORD" in DOCUMENTED_SECRETS["kubeblog-app"]["keys"]
    assert "EMAIL_HOST_PASSWORD" not in DOCUMENTED_SECRETS["kubeblog-app"]["required"]
    if overlay == "local":
        assert env["EMAIL_HOST"] == "console"
    else:
        assert int(env["EMAIL_PORT"]) == 587 and env["EMAIL_USE_TLS"] == "true"


def test_first_admin_is_a_one_off_job_that_migrates_like_a_web_pod():
    """components/first-admin (in the all-components overlay): a Job that goes away after
    it ends, runs the web pods' init containers, image and database environment, then
    ensure_superuser with the optional Secret kubeblog-admin."""
    objs = objects("all-components")
    job = get(objs, "Job", "first-admin")
    assert job["spec"]["backoffLimit"] > 0
    assert 0 < job["spec"]["ttlSecondsAfterFinished"] <= 3600
    assert job["spec"]["activeDeadlineSeconds"] > 0
    podspec = pod_template(job)["spec"]
    assert podspec["restartPolicy"] == "Never"
    web_podspec = pod_template(web(objs))["spec"]
    assert podspec["initContainers"] == web_podspec["initContainers"]
    (container,) = podspec["containers"]
    (migrate,) = web_podspec["initContainers"]
    assert container["image"] == web_container(objs)["image"]
    assert container["env"] == migrate["env"]
    assert {"secretRef": {"name": "kubeblog-admin", "optional": True}} in container["envFrom"]
    assert container["command"][-1].rstrip().endswith("exec python manage.py ensure_superuser")


def test_shutdown_fits_the_grace_period(objs):
    """The arithmetic written beside terminationGracePeriodSeconds in base/deployment.yaml:
    the preStop sleep S, then SIGTERM and GUNICORN_GRACEFUL_TIMEOUT G for the requests in
    flight, with a margin to exit, end before the kubelet's SIGKILL at T."""
    podspec = pod_template(web(objs))["spec"]
    container = web_container(objs)
    env = effective_env(objs, container)
    s = sleep_seconds(container["lifecycle"]["preStop"])
    g = seconds_set_or_default(env, "GUNICORN_GRACEFUL_TIMEOUT")
    t = podspec.get("terminationGracePeriodSeconds", 30)
    assert s >= ENDPOINT_PROPAGATION_SECONDS, "preStop must outlast endpoint propagation"
    assert s + g + SHUTDOWN_MARGIN_SECONDS <= t, f"{s} + {g} + margin > {t}"
    # Requests may run up to GUNICORN_TIMEOUT; the graceful stop gives in-flight ones G.
    assert g <= seconds_set_or_default(env, "GUNICORN_TIMEOUT")
    worker_shutdown_fits_the_grace_period(objs)


def worker_shutdown_fits_the_grace_period(objs) -> None:
    """The arithmetic written beside the worker's terminationGracePeriodSeconds: no preStop
    (no Service sends it anything); on SIGTERM the running task gets WORKER_SHUTDOWN_TIMEOUT
    W, then goes back to the queue, with a margin to exit, before the SIGKILL at T."""
    podspec = pod_template(worker(objs))["spec"]
    container = worker_container(objs)
    env = effective_env(objs, container)
    w = seconds_set_or_default(env, "WORKER_SHUTDOWN_TIMEOUT")
    t = podspec.get("terminationGracePeriodSeconds", 30)
    assert "lifecycle" not in container, "no preStop: the worker has no Service"
    assert w + SHUTDOWN_MARGIN_SECONDS <= t, f"worker: {w} + margin > {t}"
    # A task may run up to TASK_TIME_LIMIT; the shutdown gives the running one W of it.
    assert w <= seconds_set_or_default(env, "TASK_TIME_LIMIT"), "worker: W past the time limit"


@pytest.mark.parametrize(("name", "bounds"), [("web", (3, 20)), ("worker", (2, 10))])
def test_hpa_and_pdb_leave_capacity_during_disruptions(objs, name, bounds):
    deployment = get(objs, "Deployment", name)
    hpa = hpa_for(objs, name)
    scaled = [
        s for s in of_kind(objs, "ScaledObject") if s["spec"]["scaleTargetRef"]["name"] == name
    ]
    pdbs = [
        p
        for p in of_kind(objs, "PodDisruptionBudget")
        if labels_match(p["spec"]["selector"], pod_template(deployment)["metadata"]["labels"])
    ]
    assert len(pdbs) == 1, f"one PodDisruptionBudget for the {name} pods"
    pdb = pdbs[0]["spec"]
    assert not (hpa and scaled), f"{name}: an HPA and a KEDA ScaledObject would fight"
    if hpa:
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", name)
        assert target["apiVersion"] == "apps/v1"
        assert hpa["apiVersion"] == "autoscaling/v2"
        low, high = hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]
    elif scaled:
        (spec,) = (s["spec"] for s in scaled)
        assert spec["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
        low, high = spec["minReplicaCount"], spec["maxReplicaCount"]
    else:
        low = high = deployment["spec"]["replicas"]
    if hpa or scaled:
        assert (low, high) == bounds
        replicas = deployment["spec"].get("replicas")
        assert replicas is None or low <= replicas <= high
    if "minAvailable" in pdb:
        assert low >= pdb["minAvailable"] + 1, "a drain must be possible at the minimum"
    else:
        assert pdb["maxUnavailable"] >= 1, "a drain must be possible"
        assert low - pdb["maxUnavailable"] >= 1, "someone keeps serving during a drain"
        assert pdb["maxUnavailable"] == 1


def test_production_lets_the_hpa_own_the_replica_count():
    objs = objects("production")
    for name in ("web", "worker"):
        deployment = get(objs, "Deployment", name)
        assert "replicas" not in deployment["spec"], f"{name}: apply would reset the HPA"
        assert hpa_for(objs, name), f"{name}: no HPA"
    assert hpa_for(objs, "worker")["spec"]["minReplicas"] >= 2


def worker_scales_on_cpu_and_the_queue(objs) -> None:
    """The worker's HPA: CPU, and the External metric kubeblog_tasks{state="ready"} per
    replica (served by prometheus-adapter or similar, docs/kubernetes.md "Worker")."""
    metrics = hpa_for(objs, "worker")["spec"]["metrics"]
    kinds = {m["type"]: m for m in metrics}
    assert set(kinds) == {"Resource", "External"}, "worker HPA metrics"
    assert kinds["Resource"]["resource"]["name"] == "cpu"
    external = kinds["External"]["external"]
    assert external["metric"]["name"] == "kubeblog_tasks"
    assert external["metric"]["selector"] == {"matchLabels": {"state": "ready"}}
    assert external["target"]["type"] == "AverageValue", "tasks per worker"
    assert float(external["target"]["averageValue"]) > 0


def test_worker_scales_on_cpu_and_the_queue():
    worker_scales_on_cpu_and_the_queue(objects("production"))


def test_worker_scale_check_would_fail_on_a_total_not_per_replica():
    objs = objects("production")
    for metric in hpa_for(objs, "worker")["spec"]["metrics"]:
        if metric["type"] == "External":
            metric["external"]["target"] = {"type": "Value", "value": "20"}
    with pytest.raises(AssertionError, match="tasks per worker"):
        worker_scales_on_cpu_and_the_queue(objs)


def test_keda_component_replaces_the_worker_hpa():
    """components/keda-worker (in the all-components overlay): a ScaledObject on the worker
    Deployment, at least 2 replicas, on the queue's depth as Prometheus has it, the max over
    the workers (each one exports the whole queue), and no HPA of ours beside KEDA's."""
    objs = objects("all-components")
    assert hpa_for(objs, "worker") is None
    (scaled,) = of_kind(objs, "ScaledObject")
    spec = scaled["spec"]
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "worker",
    }
    assert spec["minReplicaCount"] >= 2
    triggers = {t["type"]: t for t in spec["triggers"]}
    assert set(triggers) == {"prometheus", "cpu"}
    query = triggers["prometheus"]["metadata"]["query"]
    assert re.fullmatch(r'max\(kubeblog_tasks\{[^}]*state="ready"[^}]*\}\)', query), query
    assert float(triggers["prometheus"]["metadata"]["threshold"]) > 0
    (monitor,) = [m for m in of_kind(objs, "PodMonitor") if m["metadata"]["name"] == "worker"]
    assert labels_match(
        monitor["spec"]["selector"], pod_template(worker(objs))["metadata"]["labels"]
    )
    assert [e["port"] for e in monitor["spec"]["podMetricsEndpoints"]] == ["metrics"]


def test_every_pdb_selects_something(objs):
    poolers = {p["metadata"]["name"] for p in of_kind(objs, "Pooler")}
    templates = [pod_template(w)["metadata"]["labels"] for w in workloads(objs)]
    for pdb in of_kind(objs, "PodDisruptionBudget"):
        selector = pdb["spec"]["selector"]
        pooler = selector.get("matchLabels", {}).get("cnpg.io/poolerName")
        assert pooler in poolers or any(labels_match(selector, t) for t in templates), ident(pdb)


@pytest.mark.parametrize("name", ["web", "worker"])
def test_web_and_worker_spread_over_nodes_and_zones(objs, name):
    template = pod_template(get(objs, "Deployment", name))
    spread = template["spec"]["topologySpreadConstraints"]
    keys = {c["topologyKey"] for c in spread}
    assert keys == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    for constraint in spread:
        assert labels_match(constraint["labelSelector"], template["metadata"]["labels"])


# --- labels and selectors -------------------------------------------------------------------


def test_selectors_never_hold_changing_labels(objs):
    selectors = []
    for obj in workloads(objs):
        # A Job's selector is made by the API server (controller-uid), never written here.
        if obj["kind"] not in ("Job", "CronJob"):
            selectors.append((ident(obj), obj["spec"]["selector"]["matchLabels"]))
            assert labels_match(obj["spec"]["selector"], pod_template(obj)["metadata"]["labels"])
    for svc in of_kind(objs, "Service"):
        selectors.append((ident(svc), svc["spec"]["selector"]))
    for kind in ("PodDisruptionBudget", "NetworkPolicy"):
        for obj in of_kind(objs, kind):
            selector = obj["spec"].get("selector") or obj["spec"].get("podSelector")
            selectors.append((ident(obj), selector.get("matchLabels", {})))
    for where, selector in selectors:
        unstable = set(selector) - STABLE_SELECTOR_KEYS
        assert not unstable, f"{where} selects on {unstable}, which can change"


def test_every_object_is_labelled(overlay, objs):
    instance = f"kubeblog-{'ci' if overlay == 'all-components' else overlay}"
    for obj in objs:
        labels = obj["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/part-of") == "kubeblog", ident(obj)
        assert labels.get("app.kubernetes.io/name"), ident(obj)
        assert labels.get("app.kubernetes.io/instance") == instance, ident(obj)
    for obj in workloads(objs):
        template_labels = pod_template(obj)["metadata"]["labels"]
        assert template_labels.get("app.kubernetes.io/part-of") == "kubeblog", ident(obj)


def test_services_select_exactly_one_workload_and_its_ports(objs):
    for svc in of_kind(objs, "Service"):
        matching = [
            w
            for w in workloads(objs)
            if labels_match(
                {"matchLabels": svc["spec"]["selector"]}, pod_template(w)["metadata"]["labels"]
            )
        ]
        assert len(matching) == 1, f"{ident(svc)} selects {[ident(w) for w in matching]}"
        ports = {
            p["name"]: p["containerPort"]
            for c in pod_template(matching[0])["spec"]["containers"]
            for p in c.get("ports", [])
        }
        for port in svc["spec"]["ports"]:
            target = port["targetPort"]
            assert target in ports or target in ports.values(), f"{ident(svc)} port {target}"


def gateway_seconds(duration: str) -> float:
    """A Gateway API duration (`60s`, `1m30s`, `500ms`, `1h`) in seconds."""
    parts = re.findall(r"(\d+)(h|ms|m|s)", duration)
    assert "".join(n + u for n, u in parts) == duration, f"not a Gateway API duration: {duration}"
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(int(n) * units[u] for n, u in parts)


def front_service(objs, name: str, port: dict) -> str:
    """The target port name of the Service a route or Ingress sends to (by port name or
    number)."""
    service = get(objs, "Service", name)
    (found,) = [p for p in service["spec"]["ports"] if port in (p["name"], p["port"])]
    return found["targetPort"]


def test_ways_in_reach_only_an_http_port(overlay, objs):
    """The HTTPRoute and the Ingress send to the web Service, or to the edge cache's, and
    only to a port named http: never the metrics port."""
    routes, ingresses = of_kind(objs, "HTTPRoute"), of_kind(objs, "Ingress")
    assert routes or ingresses, "no way in"
    deployments = {d["metadata"]["name"] for d in of_kind(objs, "Deployment")}
    fronts = {"edge-cache"} if "edge-cache" in deployments else {"web"}
    for route in routes:
        for rule in route["spec"]["rules"]:
            for ref in rule["backendRefs"]:
                assert ref.get("kind", "Service") == "Service" and not ref.get("group")
                assert ref["name"] in fronts, ref["name"]
                assert front_service(objs, ref["name"], ref["port"]) == "http"
    for ingress in ingresses:
        assert ingress["spec"]["ingressClassName"] == "nginx"
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["name"] in fronts, backend["name"]
                assert front_service(objs, backend["name"], backend["port"]["name"]) == "http"


def test_production_comes_in_through_the_gateway_api_with_tls():
    """Production: one HTTPRoute on an HTTPS listener of the cluster's Gateway, for the host
    the app accepts; no Ingress (ingress-nginx is retired)."""
    objs = objects("production")
    assert not of_kind(objs, "Ingress")
    (route,) = of_kind(objs, "HTTPRoute")
    (parent,) = route["spec"]["parentRefs"]
    assert parent["kind"] == "Gateway" and parent["group"] == "gateway.networking.k8s.io"
    assert {"name", "namespace", "sectionName"} <= set(parent), "which Gateway and listener"
    env = effective_env(objs, web_container(objs))
    assert set(route["spec"]["hostnames"]) == set(env["ALLOWED_HOSTS"].split(","))
    assert env["SITE_URL"].startswith("https://")


def test_the_ingress_option_keeps_its_tls():
    for ingress in of_kind(objects("all-components"), "Ingress"):
        hosts = {h for t in ingress["spec"]["tls"] for h in t["hosts"]}
        assert hosts == {r["host"] for r in ingress["spec"]["rules"]}
        assert "cert-manager.io/cluster-issuer" in ingress["metadata"]["annotations"]


def route_gives_up_after_everything_behind_it(objs) -> None:
    """Every HTTPRoute rule bounds a request (`timeouts.request`) and each backend request
    (`timeouts.backendRequest`, at most the request's: the CRD's own rule), and the bound is
    above what answers behind it takes to answer: the app's REQUEST_DEADLINE, and with the
    edge cache its connect + read timeouts (then it serves a stale copy)."""
    routes = of_kind(objs, "HTTPRoute")
    deployments = {d["metadata"]["name"] for d in of_kind(objs, "Deployment")}
    behind = REQUEST_DEADLINE_SECONDS
    if "edge-cache" in deployments:
        _, directives = edge_cache(objs)
        behind = max(
            behind,
            sum(nginx_seconds(directives[f"proxy_{n}_timeout"][0][0]) for n in ("connect", "read")),
        )
    for route in routes:
        for rule in route["spec"]["rules"]:
            timeouts = rule.get("timeouts", {})
            assert "request" in timeouts and "backendRequest" in timeouts, "timeouts not set"
            request = gateway_seconds(timeouts["request"])
            backend = gateway_seconds(timeouts["backendRequest"])
            assert backend <= request, "backendRequest above request"
            assert backend > behind, f"backendRequest {backend} s not above {behind} s behind it"


def test_route_gives_up_after_everything_behind_it(objs):
    route_gives_up_after_everything_behind_it(objs)


def route_retries_as_the_drill_does(objs) -> None:
    """A request whose connection to a pod failed goes to another (the drill's stand-in
    proxy retries exactly that, docs/drill.md), and no status code is retried: a 503 is the
    app's answer, and a write that reached a pod must not be sent again."""
    for route in of_kind(objs, "HTTPRoute"):
        for rule in route["spec"]["rules"]:
            retry = rule.get("retry", {})
            assert retry.get("attempts", 0) >= 2, "fewer retries than the drill makes"
            assert not retry.get("codes"), "a status code is retried"


def test_route_retries_as_the_drill_does(objs):
    route_retries_as_the_drill_does(objs)


@pytest.mark.parametrize(
    ("retry", "complaint"),
    [({}, "fewer retries"), ({"attempts": 2, "codes": [503]}, "status code is retried")],
)
def test_route_retry_check_would_fail(retry, complaint):
    objs = objects("all-components")
    get(objs, "HTTPRoute", "web")["spec"]["rules"][0]["retry"] = retry
    with pytest.raises(AssertionError, match=complaint):
        route_retries_as_the_drill_does(objs)


@pytest.mark.parametrize(
    ("timeouts", "complaint"),
    [
        ({"request": "60s"}, "timeouts not set"),
        ({"request": "10s", "backendRequest": "30s"}, "backendRequest above request"),
        ({"request": "60s", "backendRequest": "10s"}, "not above 12"),
        ({"request": "60s", "backendRequest": "1d"}, "not a Gateway API duration"),
    ],
)
def test_route_timeout_check_would_fail(timeouts, complaint):
    objs = objects("all-components")
    get(objs, "HTTPRoute", "web")["spec"]["rules"][0]["timeouts"] = timeouts
    with pytest.raises(AssertionError, match=complaint):
        route_gives_up_after_everything_behind_it(objs)


# --- images ---------------------------------------------------------------------------------


def test_images_are_pinned_and_the_version_is_the_release(objs):
    """Every image has a version tag or a digest; the app's is pyproject.toml's version,
    and APP_VERSION and the version label say the same (components/version)."""
    for obj, _, container in all_containers(objs):
        _, tag, digest = image_reference(container["image"])
        pinned = digest or (tag and tag != "latest" and re.search(r"\d", tag))
        assert pinned, f"{ident(obj)}: {container['image']} is not pinned"
    images = {c["image"] for _, _, c in app_containers(objs)}
    assert len(images) == 1, f"every app container runs the same release: {images}"
    version = release_version()
    _, tag, _ = image_reference(images.pop())
    assert tag in (version, None), f"the tag {tag} is not the release {version}"
    for workload in (web(objs), worker(objs), housekeeping(objs)):
        assert workload["metadata"]["labels"]["app.kubernetes.io/version"] == version
        assert pod_template(workload)["metadata"]["labels"]["app.kubernetes.io/version"] == version
        (container,) = (c for c in pod_template(workload)["spec"]["containers"])
        assert effective_env(objs, container)["APP_VERSION"] == version, ident(workload)


# --- environment and secrets ----------------------------------------------------------------


def test_every_variable_an_app_container_gets_is_declared_and_secrets_stay_secret(objs):
    """The app reads exactly the variables config/env.py declares; the ones it marks secret
    come from a Secret (or a value built from one), never from a ConfigMap or a literal, but
    for a URL that carries no password."""
    for obj, _, container in app_containers(objs):
        where = f"{ident(obj)} {container['name']}"
        env = effective_env(objs, container)
        referenced = {
            name for value in env.values() if value for name in VAR_REFERENCE.findall(value)
        }
        for name in set(env) - referenced:
            assert name in DECLARED, f"{where}: {name} is not declared in config/env.py"
        from_config_maps = {
            key
            for source in container.get("envFrom", [])
            if "configMapRef" in source
            for key in get(objs, "ConfigMap", source["configMapRef"]["name"]).get("data", {})
        }
        literals = {
            var["name"]
            for var in container.get("env", [])
            if "value" in var and not VAR_REFERENCE.search(var["value"])
        }
        for name in (from_config_maps | literals) & set(DECLARED):
            value = env[name] or ""
            harmless = "://" in value and not URL_WITH_PASSWORD.search(value)
            assert not DECLARED[name].secret or harmless, f"{where}: {name} belongs in a Secret"


def test_the_apps_secrets_hold_declared_variables():
    for name in ("kubeblog-app", "kubeblog-admin"):
        keys = DOCUMENTED_SECRETS[name]["keys"]
        assert keys <= set(DECLARED), f"{name}: {keys - set(DECLARED)} not in config/env.py"
    secret = {v.name for v in VARIABLES if v.secret}
    assert DOCUMENTED_SECRETS["kubeblog-app"]["keys"] <= secret


def test_required_settings_are_provided(objs):
    required = required_settings()
    assert {"DJANGO_SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL"} <= required
    for obj, _, container in app_containers(objs):
        env = effective_env(objs, container)
        from_secrets = {
            key
            for source in container.get("envFrom", [])
            if "secretRef" in source and not source["secretRef"].get("optional")
            for key in DOCUMENTED_SECRETS[source["secretRef"]["name"]]["required"]
        }
        missing = required - set(env) - from_secrets
        assert not missing, f"{ident(obj)} {container['name']} lacks {missing}"


def test_var_references_point_at_earlier_variables(objs):
    """$(NAME) expands only if NAME is defined earlier in the same container's env."""
    for obj, _, container in all_containers(objs):
        defined: set[str] = set()
        for var in container.get("env", []):
            for name in VAR_REFERENCE.findall(var.get("value", "")):
                assert name in defined, f"{ident(obj)} {var['name']}: $({name}) undefined"
            defined.add(var["name"])


def test_no_literal_secret_values(objs):
    assert not of_kind(objs, "Secret"), "Secrets are made out of band, never rendered"
    for obj, _, container in all_containers(objs):
        for var in container.get("env", []):
            if SECRET_NAME.search(var["name"]):
                assert "value" not in var, f"{ident(obj)}: {var['name']} is a literal"
    for cm in of_kind(objs, "ConfigMap"):
        for key in cm.get("data", {}):
            assert not SECRET_NAME.search(key), f"{ident(cm)}: {key} belongs in a Secret"
    text = yaml.safe_dump_all(objs)
    assert not URL_WITH_PASSWORD.search(text), URL_WITH_PASSWORD.search(text).group(0)


def test_secret_references_are_documented(objs):
    docs = DOCS.read_text()
    for name, key, _, where in secret_references(objs):
        assert name in DOCUMENTED_SECRETS, f"{where} refers to an undocumented Secret {name}"
        if key is not None:
            assert key in DOCUMENTED_SECRETS[name]["keys"], f"{where}: {name}/{key}"
        assert name in docs, f"docs/kubernetes.md does not tell where {name} comes from"


def test_secret_examples_hold_no_values_and_only_known_keys():
    examples = sorted(K8S.rglob("*.secret.env.example"))
    assert len(examples) >= 3
    for path in examples:
        text = path.read_text()
        (name,) = re.findall(r"create secret generic (\S+)", text)
        keys = DOCUMENTED_SECRETS[name]["keys"]
        for line in text.splitlines():
            line = line.lstrip("# ").strip()
            if re.fullmatch(r"[A-Za-z_.]+=.*", line):
                key, _, value = line.partition("=")
                assert key in keys, f"{path.name}: {key} is not a key of {name}"
                assert value == "", f"{path.name}: {key} has a value; examples stay empty"


def test_real_secret_files_are_ignored_by_git():
    ignore = (K8S / ".gitignore").read_text()
    assert "*.secret.env" in ignore.split()


# --- the application's contract -------------------------------------------------------------


def test_probes_reach_what_answers_them(objs):
    """Every probe goes to the metrics port, where the gunicorn master answers /healthz and
    /readyz outside the request threads (ops/master.py): requests waiting on a dependency
    every replica shares can never starve a probe and take every replica out at once."""
    container = web_container(objs)
    env = effective_env(objs, container)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": int(env["PORT"]), "metrics": int(env["METRICS_PORT"])}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"].get("scheme", "HTTP") == "HTTP", probe
    for probe in ("startupProbe", "livenessProbe"):
        http = container[probe]["httpGet"]
        assert (http["port"], http["path"]) == ("metrics", "/healthz"), f"{probe} {http}"
    readiness = container["readinessProbe"]["httpGet"]
    assert (readiness["port"], readiness["path"]) == ("metrics", "/readyz")
    assert readiness["path"] in MASTER_PATHS


def test_database_url_host_exists_and_migrations_bypass_transaction_pooling(objs):
    """The advisory lock of migrate_locked is per session: through a transaction-mode
    PgBouncer it could be taken and released on different server connections."""
    services = {s["metadata"]["name"] for s in of_kind(objs, "Service")}
    for cluster in of_kind(objs, "Cluster"):
        name = cluster["metadata"]["name"]
        services |= {f"{name}-rw", f"{name}-ro", f"{name}-r"}
    poolers = {p["metadata"]["name"]: p for p in of_kind(objs, "Pooler")}
    services |= set(poolers)
    for _, _, container in app_containers(objs):
        env = effective_env(objs, container)
        url = env["DATABASE_URL"]
        host = re.match(r"postgres(?:ql)?://[^@]+@([^:/]+):5432/", url).group(1)
        assert host in services, f"{container['name']}: DATABASE_URL host {host} is nowhere"
        through_pooler = host in poolers
        if container["name"] in ("web", "worker"):
            assert env["DATABASE_PGBOUNCER"] == ("true" if through_pooler else "false")
            if through_pooler:
                assert poolers[host]["spec"]["pgbouncer"]["poolMode"] == "transaction"
        else:
            # Migrations hold a session's advisory lock; housekeeping's DELETEs may outlast
            # PgBouncer's query_timeout; first-admin migrates first.
            assert not through_pooler, f"{container['name']} must reach PostgreSQL directly"


def test_direct_database_connections_refuse_a_standby(objs):
    """A container that reaches PostgreSQL directly (migrations, the first-admin Job) asks
    for a read-write session, so that after a failover it never writes to the old primary,
    now a standby: in its DATABASE_URL, or from the settings, which add it when
    DATABASE_PGBOUNCER is off (config/tests/test_settings.py)."""
    poolers = {p["metadata"]["name"] for p in of_kind(objs, "Pooler")}
    for obj, _, container in app_containers(objs):
        env = effective_env(objs, container)
        url = env["DATABASE_URL"]
        if re.match(r"postgres(?:ql)?://[^@]+@([^:/]+):", url).group(1) in poolers:
            continue
        settings_add_it = env.get("DATABASE_PGBOUNCER", "false") != "true"
        assert settings_add_it or "target_session_attrs=read-write" in url, (
            f"{ident(obj)} container {container['name']}: direct DATABASE_URL without "
            "target_session_attrs=read-write"
        )


def test_redis_evicts_well_before_its_memory_limit(objs):
    """Redis evicts least recently used keys at maxmemory; the kernel kills the container at
    its memory limit. Fragmentation, client buffers and the process itself need room above
    maxmemory, so a full cache must stay an eviction, never an OOM kill."""
    (container,) = pod_template(get(objs, "Deployment", "redis"))["spec"]["containers"]
    maxmemory = redis_bytes(redis_option(container, "maxmemory"))
    limit = quantity_bytes(container["resources"]["limits"]["memory"])
    assert redis_option(container, "maxmemory-policy") == "allkeys-lru"
    assert 0 < maxmemory <= REDIS_MAXMEMORY_SHARE * limit, f"maxmemory {maxmemory} vs {limit}"


def secret_key_ref(container: dict, name: str) -> tuple[str, str]:
    """(Secret, key) that the container's variable `name` comes from."""
    (var,) = [v for v in container.get("env", []) if v["name"] == name]
    ref = var["valueFrom"]["secretKeyRef"]
    return ref["name"], ref["key"]


def test_redis_requires_the_password_its_clients_use(objs):
    """Redis runs with requirepass from the Secret kubeblog-redis, its probes authenticate
    and look for PONG (redis-cli exits 0 on NOAUTH too), and the web pods' REDIS_URL
    carries that same password, by reference."""
    (redis,) = pod_template(get(objs, "Deployment", "redis"))["spec"]["containers"]
    password = ("kubeblog-redis", "password")
    requirepass = VAR_REFERENCE.fullmatch(redis_option(redis, "requirepass"))
    assert requirepass, "--requirepass must be a $(VAR) reference to a Secret"
    assert secret_key_ref(redis, requirepass.group(1)) == password
    env = {v["name"]: v.get("value") for v in redis["env"]}
    assert env["REDISCLI_AUTH"] == requirepass.group(0), "the probes authenticate"
    for probe in ("livenessProbe", "readinessProbe"):
        assert "grep -qx PONG" in " ".join(redis[probe]["exec"]["command"]), probe
    url = effective_env(objs, web_container(objs))["REDIS_URL"]
    match = re.fullmatch(r"redis://:\$\((\w+)\)@redis:6379/0", url)
    assert match, f"REDIS_URL {url} does not carry the password by reference"
    assert secret_key_ref(web_container(objs), match.group(1)) == password


def test_pgbouncer_gives_up_before_the_app_does(objs):
    """Each PgBouncer wait on PostgreSQL is set (its defaults wait up to two minutes) and
    ends before the app's per-request deadline, so a hung or absent primary costs a clean
    error in time; query_timeout comes after statement_timeout, so that PostgreSQL's own
    error comes first."""
    for pooler in of_kind(objs, "Pooler"):
        parameters = pooler["spec"]["pgbouncer"]["parameters"]
        for name, unit in PGBOUNCER_DEADLINES.items():
            assert name in parameters, f"{ident(pooler)}: {name} is not set"
            seconds = float(parameters[name]) * unit
            assert 0 < seconds < REQUEST_DEADLINE_SECONDS, f"{name}: {seconds} s"
        query_timeout = float(parameters["query_timeout"])
        assert query_timeout > STATEMENT_TIMEOUT_SECONDS, "query_timeout before statement_timeout"


def edge_cache_serves_the_last_copy_while_the_web_pods_fail(objs) -> None:
    """components/edge-cache: on a connection error, a timeout or a 5xx from the web pods,
    nginx answers with the copy it has, however old (its directive overrides the header's
    stale-if-error), but never while refreshing beyond the app's stale-while-revalidate.
    What bounds it is the cache: entries unrequested for `inactive` leave, and the whole
    cache fits its volume."""
    podspec, directives = edge_cache(objs)
    (use_stale,) = directives["proxy_cache_use_stale"]
    wanted = {"error", "timeout", "http_500", "http_502", "http_503", "http_504"}
    assert wanted <= set(use_stale), f"proxy_cache_use_stale lacks {wanted - set(use_stale)}"
    assert "updating" not in use_stale, "stale while updating: the app's stale-while-revalidate"
    assert directives["proxy_cache_background_update"] == [["on"]]
    (path,) = directives["proxy_cache_path"]
    options = dict(option.split("=", 1) for option in path if "=" in option)
    assert 0 < nginx_seconds(options["inactive"]) <= 3600, "inactive"
    (state,) = [v for v in podspec["volumes"] if "emptyDir" in v]
    size_limit = quantity_bytes(state["emptyDir"]["sizeLimit"])
    assert nginx_bytes(options["max_size"]) < size_limit, "max_size must fit the emptyDir"


def edge_cache_gives_up_after_the_app_and_before_the_ingress(objs) -> None:
    """The edge cache waits for the web pods longer than the app's own request deadline (so
    the app's answer, a 503 at worst, arrives) and less than ingress-nginx waits for it (so
    the reader gets a stale copy or the cache's own error, not the controller's 504). The
    HTTPRoute's side: route_gives_up_after_everything_behind_it."""
    _, directives = edge_cache(objs)
    for ingress in of_kind(objs, "Ingress"):
        annotations = ingress["metadata"]["annotations"]
        for name in ("connect", "send", "read"):
            (value,) = directives[f"proxy_{name}_timeout"]
            timeout = float(annotations[f"nginx.ingress.kubernetes.io/proxy-{name}-timeout"])
            assert nginx_seconds(value[0]) < timeout, f"proxy_{name}_timeout"
    (read,) = directives["proxy_read_timeout"]
    assert nginx_seconds(read[0]) > REQUEST_DEADLINE_SECONDS, "proxy_read_timeout"


def test_edge_cache_serves_the_last_copy_while_the_web_pods_fail():
    edge_cache_serves_the_last_copy_while_the_web_pods_fail(objects("all-components"))


def test_edge_cache_gives_up_after_the_app_and_before_the_ingress():
    edge_cache_gives_up_after_the_app_and_before_the_ingress(objects("all-components"))


def database_never_loses_an_acknowledged_write(objs) -> None:
    """Synchronous quorum replication (any 1 of the 2 standbys, required) and quorum
    failover: only a standby that has every acknowledged commit may be promoted. The
    durability parameters are stated and on; the shutdowns are never cut short before the
    WAL is sent; a switchover, not a restart, updates the primary."""
    (cluster,) = of_kind(objs, "Cluster")
    spec = cluster["spec"]
    assert spec["instances"] == 3, "instances"
    synchronous = spec["postgresql"]["synchronous"]
    assert (synchronous["method"], synchronous["number"]) == ("any", 1), "synchronous any 1"
    assert synchronous.get("dataDurability") == "required", "dataDurability"
    assert synchronous.get("failoverQuorum") is True, "failoverQuorum"
    parameters = spec["postgresql"]["parameters"]
    for name, durable in DURABILITY_PARAMETERS.items():
        assert parameters.get(name) in durable, f"{name}: {parameters.get(name)}"
    assert spec["primaryUpdateMethod"] == "switchover", "primaryUpdateMethod"
    assert spec.get("enablePDB", True) is True, "enablePDB"
    stop = spec.get("stopDelay", STOP_DELAY_DEFAULT)
    smart = spec.get("smartShutdownTimeout", SMART_SHUTDOWN_DEFAULT)
    assert stop - smart >= 15, "stopDelay leaves the fast shutdown under 15 s"
    switchover = spec.get("switchoverDelay", SWITCHOVER_DELAY_DEFAULT)
    assert switchover >= SWITCHOVER_DELAY_DEFAULT, "switchoverDelay"


def pooler_drops_dead_server_connections(objs) -> None:
    """Each PgBouncer notices an idle server connection to a vanished primary by itself."""
    for pooler in of_kind(objs, "Pooler"):
        parameters = pooler["spec"]["pgbouncer"]["parameters"]
        keepalive = [float(parameters.get(f"tcp_keep{n}", 0)) for n in ("idle", "intvl", "cnt")]
        idle, interval, count = keepalive
        assert all(keepalive), f"{ident(pooler)}: tcp_keepidle, tcp_keepintvl, tcp_keepcnt"
        assert idle + interval * count <= PGBOUNCER_KEEPALIVE_SECONDS, "keepalives"


def test_production_database_never_loses_an_acknowledged_write():
    objs = objects("production")
    database_never_loses_an_acknowledged_write(objs)
    test_pgbouncer_gives_up_before_the_app_does(objs)
    pooler_drops_dead_server_connections(objs)


def test_production_database_is_highly_available():
    objs = objects("production")
    (cluster,) = of_kind(objs, "Cluster")
    assert cluster["spec"]["instances"] == 3
    assert cluster["spec"]["affinity"]["podAntiAffinityType"] == "required"
    assert [p["isWALArchiver"] for p in cluster["spec"]["plugins"]] == [True]
    (pooler,) = of_kind(objs, "Pooler")
    assert pooler["spec"]["instances"] >= 2
    assert of_kind(objs, "ScheduledBackup") and of_kind(objs, "PodMonitor")


def test_pg_dump_cronjob_writes_to_its_own_volume():
    objs = objects("local")
    cronjob = get(objs, "CronJob", "postgres-backup")
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    podspec = pod_template(cronjob)["spec"]
    claims = [
        v["persistentVolumeClaim"]["claimName"]
        for v in podspec["volumes"]
        if "persistentVolumeClaim" in v
    ]
    assert claims == ["postgres-backups"]
    get(objs, "PersistentVolumeClaim", "postgres-backups")
    (statefulset,) = of_kind(objs, "StatefulSet")
    data = [t["metadata"]["name"] for t in statefulset["spec"]["volumeClaimTemplates"]]
    assert data == ["data"], "the database has its own volume, apart from the dumps"
    script = podspec["containers"][0]["command"][-1]
    assert "pg_dump --format=custom" in script and "mv " in script


def test_local_overlay_is_small_and_reachable_without_tls():
    objs = objects("local")
    assert web(objs)["spec"]["replicas"] == 2
    assert not of_kind(objs, "HorizontalPodAutoscaler")
    env = effective_env(objs, web_container(objs))
    assert env["SECURE_SSL_REDIRECT"] == "false"
    assert "localhost" in env["ALLOWED_HOSTS"].split(",")
    assert {s["metadata"]["name"] for s in of_kind(objs, "StatefulSet")} == {"postgres"}


# --- the detectors above can fire -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("postgres://kubeblog:hunter2@postgres:5432/kubeblog", True),
        ("redis://:s3cret@redis:6379/0", True),
        ("redis://:$(REDIS_PASSWORD)@redis:6379/0", False),
        ("redis://redis:6379/0", False),
        ("postgres://kubeblog:$(DATABASE_PASSWORD)@postgres:5432/kubeblog", False),
        ("https://blog.example.com", False),
    ],
)
def test_url_password_detector(text, found):
    assert bool(URL_WITH_PASSWORD.search(text)) is found


def test_shutdown_check_would_fail_on_a_short_grace_period():
    objs = objects("local")
    pod_template(web(objs))["spec"]["terminationGracePeriodSeconds"] = 30
    with pytest.raises(AssertionError, match="margin"):
        test_shutdown_fits_the_grace_period(objs)


@pytest.mark.parametrize(("grace", "timeout"), [(20, None), (30, "26"), (90, "75")])
def test_worker_shutdown_check_would_fail(grace, timeout):
    """A grace period shorter than WORKER_SHUTDOWN_TIMEOUT (its default 20 when unset) and a
    margin, or a shutdown timeout past TASK_TIME_LIMIT, fails."""
    objs = objects("local")
    pod_template(worker(objs))["spec"]["terminationGracePeriodSeconds"] = grace
    container = worker_container(objs)
    (config,) = (s["configMapRef"]["name"] for s in container["envFrom"] if "configMapRef" in s)
    data = get(objs, "ConfigMap", config)["data"]
    if timeout is None:
        del data["WORKER_SHUTDOWN_TIMEOUT"]
    else:
        data["WORKER_SHUTDOWN_TIMEOUT"] = timeout
    with pytest.raises(AssertionError, match="worker"):
        worker_shutdown_fits_the_grace_period(objs)


def test_shutdown_check_takes_the_declared_default_when_unset():
    """Without GUNICORN_GRACEFUL_TIMEOUT in the ConfigMap, gunicorn's default counts."""
    objs = objects("local")
    container = web_container(objs)
    (config,) = (s["configMapRef"]["name"] for s in container["envFrom"] if "configMapRef" in s)
    del get(objs, "ConfigMap", config)["data"]["GUNICORN_GRACEFUL_TIMEOUT"]
    default = DECLARED["GUNICORN_GRACEFUL_TIMEOUT"].default
    fits = sleep_seconds(container["lifecycle"]["preStop"]) + default + SHUTDOWN_MARGIN_SECONDS
    podspec = pod_template(web(objs))["spec"]
    podspec["terminationGracePeriodSeconds"] = fits
    test_shutdown_fits_the_grace_period(objs)
    podspec["terminationGracePeriodSeconds"] = fits - 1
    with pytest.raises(AssertionError, match="margin"):
        test_shutdown_fits_the_grace_period(objs)


def test_selector_check_would_fail_on_a_version_in_a_selector():
    objs = objects("local")
    deployment = web(objs)
    version = deployment["metadata"]["labels"]["app.kubernetes.io/version"]
    deployment["spec"]["selector"]["matchLabels"]["app.kubernetes.io/version"] = version
    with pytest.raises(AssertionError, match="can change"):
        test_selectors_never_hold_changing_labels(objs)


def test_version_check_would_fail_on_a_tag_an_overlay_set():
    objs = objects("local")
    for _, _, container in app_containers(objs):
        container["image"] = "registry.example.com:5000/kubeblog:9.9.9"
    with pytest.raises(AssertionError, match="not the release"):
        test_images_are_pinned_and_the_version_is_the_release(objs)


def test_security_check_would_fail_on_a_root_container():
    objs = objects("local")
    web_container(objs)["securityContext"]["runAsUser"] = 0
    with pytest.raises(AssertionError):
        test_pod_security_restricted(objs)


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("GUNICORN_WORKERZ", "4", "is not declared"),
        ("DJANGO_SECRET_KEY", "x" * 50, "belongs in a Secret"),
        ("REDIS_URL", "redis://default:hunter2@redis:6379/0", "belongs in a Secret"),
        ("REDIS_URL", "redis://:hunter2@redis:6379/0", "belongs in a Secret"),
    ],
)
def test_env_check_would_fail_on_an_undeclared_or_exposed_variable(name, value, complaint):
    objs = objects("local")
    container = web_container(objs)
    # The variable replaces one of that name, and the variables that one referred to.
    old = next((v.get("value", "") for v in container["env"] if v["name"] == name), "")
    replaced = {name, *VAR_REFERENCE.findall(old)}
    container["env"] = [v for v in container["env"] if v["name"] not in replaced]
    container["env"].append({"name": name, "value": value})
    with pytest.raises(AssertionError, match=f"{name} {complaint}"):
        test_every_variable_an_app_container_gets_is_declared_and_secrets_stay_secret(objs)


def test_probe_check_would_fail_on_liveness_in_the_request_threads():
    objs = objects("local")
    web_container(objs)["livenessProbe"]["httpGet"]["port"] = "http"
    with pytest.raises(AssertionError, match="livenessProbe"):
        test_probes_reach_what_answers_them(objs)


@pytest.mark.parametrize(("quantity", "size"), [("192Mi", "160mb"), ("200M", "150mb")])
def test_redis_memory_check_would_fail_without_headroom(quantity, size):
    objs = objects("local")
    (container,) = pod_template(get(objs, "Deployment", "redis"))["spec"]["containers"]
    container["resources"]["limits"]["memory"] = quantity
    container["args"][container["args"].index("--maxmemory") + 1] = size
    with pytest.raises(AssertionError, match="maxmemory"):
        test_redis_evicts_well_before_its_memory_limit(objs)


def test_redis_password_check_would_fail_on_a_password_less_url():
    objs = objects("local")
    for var in web_container(objs)["env"]:
        if var["name"] == "REDIS_URL":
            var["value"] = "redis://redis:6379/0"
    with pytest.raises(AssertionError, match="carry the password"):
        test_redis_requires_the_password_its_clients_use(objs)


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("query_wait_timeout", None, "not set"),
        ("query_wait_timeout", "120", "query_wait_timeout: 120"),
        ("tcp_user_timeout", "0", "tcp_user_timeout: 0"),
        ("query_timeout", "2", "before statement_timeout"),
    ],
)
def test_pgbouncer_check_would_fail_on_a_long_or_missing_deadline(name, value, complaint):
    objs = objects("production")
    (pooler,) = of_kind(objs, "Pooler")
    parameters = pooler["spec"]["pgbouncer"]["parameters"]
    if value is None:
        del parameters[name]
    else:
        parameters[name] = value
    with pytest.raises(AssertionError, match=complaint):
        test_pgbouncer_gives_up_before_the_app_does(objs)


def edited_edge_cache(old: str, new: str) -> list[dict]:
    """The all-components objects, with `old` replaced by `new` in the edge cache's
    nginx.conf."""
    objs = objects("all-components")
    podspec = pod_template(get(objs, "Deployment", "edge-cache"))["spec"]
    (config,) = [v["configMap"]["name"] for v in podspec["volumes"] if "configMap" in v]
    data = get(objs, "ConfigMap", config)["data"]
    assert old in data["nginx.conf"]
    data["nginx.conf"] = data["nginx.conf"].replace(old, new)
    return objs


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        (" http_503 ", " ", "lacks {'http_503'}"),
        ("http_504;", "http_504 updating;", "stale while updating"),
        ("inactive=10m", "inactive=2d", "inactive"),
        ("max_size=256m", "max_size=1g", "max_size"),
        ("proxy_read_timeout 10s", "proxy_read_timeout 90s", "proxy_read_timeout"),
        ("proxy_read_timeout 10s", "proxy_read_timeout 3s", "proxy_read_timeout"),
        ("proxy_connect_timeout 2s", "proxy_connect_timeout 5s", "proxy_connect_timeout"),
        # Below ingress-nginx's 60 s, but past the HTTPRoute's backendRequest (30 s).
        ("proxy_read_timeout 10s", "proxy_read_timeout 29s", "backendRequest"),
    ],
)
def test_edge_cache_checks_would_fail(old, new, complaint):
    objs = edited_edge_cache(old, new)
    with pytest.raises(AssertionError, match=complaint):
        edge_cache_serves_the_last_copy_while_the_web_pods_fail(objs)
        edge_cache_gives_up_after_the_app_and_before_the_ingress(objs)
        route_gives_up_after_everything_behind_it(objs)


@pytest.mark.parametrize(
    ("path", "value", "complaint"),
    [
        ("instances", 2, "instances"),
        ("postgresql.synchronous.method", "first", "synchronous any 1"),
        ("postgresql.synchronous.number", 2, "synchronous any 1"),
        ("postgresql.synchronous.dataDurability", "preferred", "dataDurability"),
        ("postgresql.synchronous.dataDurability", None, "dataDurability"),
        ("postgresql.synchronous.failoverQuorum", False, "failoverQuorum"),
        ("postgresql.synchronous.failoverQuorum", None, "failoverQuorum"),
        ("postgresql.parameters.fsync", "off", "fsync: off"),
        ("postgresql.parameters.synchronous_commit", "local", "synchronous_commit: local"),
        ("postgresql.parameters.synchronous_commit", "remote_write", "synchronous_commit"),
        ("postgresql.parameters.full_page_writes", None, "full_page_writes: None"),
        ("primaryUpdateMethod", "restart", "primaryUpdateMethod"),
        ("enablePDB", False, "enablePDB"),
        ("smartShutdownTimeout", 1790, "stopDelay"),
        ("stopDelay", 20, "stopDelay"),
        ("switchoverDelay", 60, "switchoverDelay"),
    ],
)
def test_durability_check_would_fail(path, value, complaint):
    objs = objects("production")
    (cluster,) = of_kind(objs, "Cluster")
    set_or_delete(cluster["spec"], path, value)
    with pytest.raises(AssertionError, match=complaint):
        database_never_loses_an_acknowledged_write(objs)


@pytest.mark.parametrize(("name", "value"), [("tcp_keepidle", None), ("tcp_keepcnt", "20")])
def test_pooler_keepalive_check_would_fail(name, value):
    objs = objects("production")
    (pooler,) = of_kind(objs, "Pooler")
    parameters = pooler["spec"]["pgbouncer"]["parameters"]
    if value is None:
        del parameters[name]
    else:
        parameters[name] = value
    with pytest.raises(AssertionError, match="keep"):
        pooler_drops_dead_server_connections(objs)


def _production_with_migrate_url(change) -> list[dict]:
    """The production render, with `change` applied to the migrate init container's URL."""
    objs = objects("production")
    migrate = pod_template(web(objs))["spec"]["initContainers"][0]
    for var in migrate["env"]:
        if var["name"] == "DATABASE_URL":
            var["value"] = change(var["value"])
    return objs


def test_standby_check_would_fail_on_a_direct_url_without_read_write():
    objs = _production_with_migrate_url(lambda url: url.split("?")[0])
    with pytest.raises(AssertionError, match="target_session_attrs"):
        test_direct_database_connections_refuse_a_standby(objs)


def test_pooler_check_would_fail_if_migrations_went_through_pgbouncer():
    objs = _production_with_migrate_url(
        lambda url: url.replace("kubeblog-db-rw", "kubeblog-db-pooler-rw")
    )
    with pytest.raises(AssertionError, match="directly"):
        test_database_url_host_exists_and_migrations_bypass_transaction_pooling(objs)


def test_docs_exist():
    assert Path(DOCS).is_file()


def _megabytes(text: str) -> int:
    """An NGINX size (`13m`, `512k`) in bytes."""
    number, unit = re.fullmatch(r"(\d+)([km]?)", text.strip().lower()).groups()
    return int(number) * {"": 1, "k": 1024, "m": 1024 * 1024}[unit]


def test_the_proxies_let_a_post_with_its_largest_image_through():
    """The largest form the app accepts (its fields, and one image of IMAGE_MAX_BYTES) passes
    the Ingress and the edge cache; a smaller proxy limit would answer 413 before the app
    could say why."""
    from django.conf import settings

    largest = DECLARED["IMAGE_MAX_BYTES"].default + settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    components = Path(__file__).parents[2] / "deploy" / "k8s" / "components"
    nginx = (components / "edge-cache" / "nginx.conf").read_text()
    edge = re.search(r"^\s*client_max_body_size\s+(\S+);", nginx, re.M).group(1)
    ingress = yaml.safe_load((components / "ingress" / "ingress.yaml").read_text())
    annotation = ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert _megabytes(edge) >= largest, edge
    assert _megabytes(annotation) >= largest, annotation
