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


@cache
def web() -> Web:
    deployment = yaml.safe_load((BASE / "deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == "web")
    config = dict(
        line.split("=", 1)
        for line in (BASE / "config.env").read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    )
    annotations = yaml.safe_load((BASE / "ingress.yaml").read_text())["metadata"]["annotations"]
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
