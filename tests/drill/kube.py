"""What the drill's stand-in for Kubernetes must do, read from the manifests themselves.

The probes, the preStop wait, the grace period and minReadySeconds come from the web
Deployment in deploy/k8s/base, the proxy's timeouts from the Ingress' annotations; a change to
the manifests changes the drill. What no manifest states is written here, with its source:
how long an endpoint's removal takes to reach every proxy, how ingress-nginx retries, the
kubelet's restart back-off.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import yaml

from harness.paths import ROOT

BASE = ROOT / "deploy/k8s/base"

# An endpoint's removal reaches kube-proxy and the ingress controller asynchronously, while
# the kubelet runs preStop: the drill draws the delay from this range for every removal.
PROPAGATION_DELAY = (1.0, 5.0)
# ingress-nginx: proxy-next-upstream "error timeout", proxy-next-upstream-tries 3 (its
# defaults): at most two more attempts on another endpoint, never for a POST once sent.
INGRESS_TRIES = 3
# ingress-nginx keeps a client's idle connection 75 s (keep-alive), longer than a browser's.
INGRESS_CLIENT_KEEPALIVE = 75
# The kubelet restarts a dead container at once, then after 10 s, 20 s, 40 s ... (cap 300 s),
# and forgets the back-off after 10 minutes of running.
RESTART_BACKOFF = (10.0, 300.0)


@dataclass(frozen=True)
class Probe:
    path: str
    port: str  # the container port's name: "http" or "metrics"
    period: float
    timeout: float
    failure_threshold: int
    success_threshold: int

    @property
    def detection_bound(self) -> float:
        """The longest an endpoint that stops answering is still probed ready: up to one
        period until the next probe, then `failure_threshold` probes that each time out,
        a period apart."""
        return (
            self.period
            + self.failure_threshold * self.timeout
            + (self.failure_threshold - 1) * self.period
        )


@dataclass(frozen=True)
class Web:
    startup: Probe
    readiness: Probe
    liveness: Probe
    prestop: float
    grace_period: float
    graceful_timeout: float  # GUNICORN_GRACEFUL_TIMEOUT, from the ConfigMap (config.env)
    min_ready: float
    proxy_connect_timeout: float
    proxy_read_timeout: float


def _probe(spec: dict) -> Probe:
    return Probe(
        path=spec["httpGet"]["path"],
        port=spec["httpGet"]["port"],
        period=float(spec.get("periodSeconds", 10)),
        timeout=float(spec.get("timeoutSeconds", 1)),
        failure_threshold=int(spec.get("failureThreshold", 3)),
        success_threshold=int(spec.get("successThreshold", 1)),
    )


def config_env() -> dict[str, str]:
    """The ConfigMap's variables (base/config.env)."""
    return dict(
        line.split("=", 1)
        for line in (BASE / "config.env").read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    )


@cache
def web() -> Web:
    deployment = next(
        document
        for document in yaml.safe_load_all((BASE / "deployment.yaml").read_text())
        if document
        and document.get("kind") == "Deployment"
        and document["metadata"]["name"] == "web"
    )
    pod = deployment["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == "web")
    config = config_env()
    ingress = ROOT / "deploy/k8s/components/ingress/ingress.yaml"
    annotations = yaml.safe_load(ingress.read_text())["metadata"]["annotations"]
    return Web(
        startup=_probe(container["startupProbe"]),
        readiness=_probe(container["readinessProbe"]),
        liveness=_probe(container["livenessProbe"]),
        prestop=float(container["lifecycle"]["preStop"]["sleep"]["seconds"]),
        grace_period=float(pod["terminationGracePeriodSeconds"]),
        graceful_timeout=float(config["GUNICORN_GRACEFUL_TIMEOUT"]),
        min_ready=float(deployment["spec"].get("minReadySeconds", 0)),
        proxy_connect_timeout=float(
            annotations["nginx.ingress.kubernetes.io/proxy-connect-timeout"]
        ),
        proxy_read_timeout=float(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]),
    )


def restart_delay(restarts: int) -> float:
    """The kubelet's wait before restarting a container that died `restarts` times before."""
    if restarts == 0:
        return 0.0
    first, cap = RESTART_BACKOFF
    return min(cap, first * 2 ** (restarts - 1))


# Kubernetes' own default, for a pod spec that sets no terminationGracePeriodSeconds.
DEFAULT_GRACE_PERIOD = 30.0


@dataclass(frozen=True)
class Worker:
    grace_period: float
    startup: Probe | None
    liveness: Probe | None
    source: str  # the manifest the numbers come from, or what stood in for it


@cache
def worker() -> Worker:
    """The worker Deployment's grace period and liveness probe, from the base manifests.

    A Deployment in deploy/k8s/base whose container runs `manage.py worker` is the worker's;
    while there is none, a pod spec without those fields gets Kubernetes' defaults: a 30 s
    grace period and no probes.
    """
    for path in sorted(BASE.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if not isinstance(document, dict) or document.get("kind") != "Deployment":
                continue
            pod = document["spec"]["template"]["spec"]
            for container in pod.get("containers", []):
                words = [*container.get("command", []), *container.get("args", [])]
                if "worker" in words:
                    return Worker(
                        grace_period=float(
                            pod.get("terminationGracePeriodSeconds", DEFAULT_GRACE_PERIOD)
                        ),
                        startup=_http_probe(container.get("startupProbe")),
                        liveness=_http_probe(container.get("livenessProbe")),
                        source=str(path.relative_to(ROOT)),
                    )
    return Worker(
        DEFAULT_GRACE_PERIOD, None, None, "no worker Deployment yet: Kubernetes' defaults"
    )


def _http_probe(spec: dict | None) -> Probe | None:
    return _probe(spec) if spec and "httpGet" in spec else None
