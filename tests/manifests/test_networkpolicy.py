"""NetworkPolicies allow exactly the flows of the design, no more, no fewer.

A small evaluator of NetworkPolicy semantics (policies select pods; a selected pod accepts
only what some policy of its namespace allows, per direction; a connection needs the
source's egress and the destination's ingress) runs over the rendered policies, between:
- the pods the overlay renders (one per workload template),
- the pods operators make from custom resources (CloudNativePG instances and PgBouncer,
  labelled as the operator labels them, including cnpg.io/cluster on PgBouncer pods so
  that a selector which forgets to exclude them is caught),
- stand-ins for what lives elsewhere: the Gateway's data plane (in the namespace the
  gateway-api component names, gateway-system), ingress-nginx, Prometheus, cluster DNS, the
  CloudNativePG operator, a pod of another namespace that wears ingress-nginx's labels, and
  "outside" (the Kubernetes API, object storage for backups and for uploaded images, a log
  aggregator, the SMTP relay: addresses outside the pod network).
Every (source, destination, port) the policies allow is compared with the expected set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.manifests.render import labels_match, objects, of_kind, pod_template, workloads

TCP, UDP = "TCP", "UDP"
OUTSIDE_PORTS = (25, 80, 443, 465, 587, 5432, 6443, 24224)
MAIL_PORTS = (25, 465, 587)
# The app's pods that use the image bucket: uploads (web), renditions and deletes (worker),
# the orphan sweep (housekeeping). The S3 API of a store outside the cluster: HTTPS.
IMAGE_USERS = ("web", "worker", "housekeeping")
OBJECT_STORE_PORT = 443
# The in-cluster store of components/object-store (SeaweedFS's S3 gateway).
IN_CLUSTER_STORE, IN_CLUSTER_STORE_PORT = "object-store", 8333
# The placeholder namespace of the Gateway's data plane (components/gateway-api; the
# production overlay keeps it).
GATEWAY_NAMESPACE = "gateway-system"


@dataclass(frozen=True)
class Endpoint:
    name: str
    namespace: str | None  # None: outside the cluster
    labels: dict = field(hash=False)
    ports: tuple[tuple[str | None, int, str], ...] = ()  # (name, number, protocol)
    namespace_labels: dict = field(default_factory=dict, hash=False)


def external_endpoints() -> list[Endpoint]:
    def ns(name: str) -> dict:
        return {"kubernetes.io/metadata.name": name}

    return [
        Endpoint(
            "gateway",
            GATEWAY_NAMESPACE,
            # Envoy Gateway's proxies; any pod of the namespace is the data plane.
            {"app.kubernetes.io/name": "envoy", "app.kubernetes.io/component": "proxy"},
            namespace_labels=ns(GATEWAY_NAMESPACE),
        ),
        # Anything else in the cluster, dressed as the controllers: only the namespace tells.
        Endpoint(
            "elsewhere",
            "some-other-app",
            {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "proxy"},
            namespace_labels=ns("some-other-app"),
        ),
        Endpoint(
            "ingress-nginx",
            "ingress-nginx",
            {"app.kubernetes.io/name": "ingress-nginx"},
            namespace_labels=ns("ingress-nginx"),
        ),
        Endpoint(
            "prometheus",
            "monitoring",
            {"app.kubernetes.io/name": "prometheus"},
            namespace_labels=ns("monitoring"),
        ),
        Endpoint(
            "kube-dns",
            "kube-system",
            {"k8s-app": "kube-dns"},
            ((None, 53, UDP), (None, 53, TCP)),
            ns("kube-system"),
        ),
        Endpoint(
            "cnpg-operator",
            "cnpg-system",
            {"app.kubernetes.io/name": "cloudnative-pg"},
            namespace_labels=ns("cnpg-system"),
        ),
        Endpoint("outside", None, {}, tuple((None, p, TCP) for p in OUTSIDE_PORTS)),
    ]


def rendered_endpoints(objs: list[dict]) -> list[Endpoint]:
    endpoints = []
    for obj in workloads(objs):
        template = pod_template(obj)
        ports = tuple(
            (p.get("name"), p["containerPort"], p.get("protocol", TCP))
            for c in template["spec"]["containers"]
            for p in c.get("ports", [])
        )
        namespace = obj["metadata"]["namespace"]
        endpoints.append(
            Endpoint(
                obj["metadata"]["name"],
                namespace,
                template["metadata"]["labels"],
                ports,
                {"kubernetes.io/metadata.name": namespace},
            )
        )
    for cluster in of_kind(objs, "Cluster"):
        namespace = cluster["metadata"]["namespace"]
        endpoints.append(
            Endpoint(
                "cnpg-instance",
                namespace,
                {"cnpg.io/cluster": cluster["metadata"]["name"], "cnpg.io/podRole": "instance"},
                (("postgresql", 5432, TCP), ("metrics", 9187, TCP), ("status", 8000, TCP)),
                {"kubernetes.io/metadata.name": namespace},
            )
        )
    for pooler in of_kind(objs, "Pooler"):
        namespace = pooler["metadata"]["namespace"]
        endpoints.append(
            Endpoint(
                "cnpg-pooler",
                namespace,
                {
                    "cnpg.io/poolerName": pooler["metadata"]["name"],
                    "cnpg.io/cluster": pooler["spec"]["cluster"]["name"],
                    "cnpg.io/podRole": "pooler",
                },
                (("pgbouncer", 5432, TCP), ("metrics", 9127, TCP)),
                {"kubernetes.io/metadata.name": namespace},
            )
        )
    return endpoints


def peer_matches(peer: dict, policy_namespace: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        return other.namespace is None
    if other.namespace is None:
        return False
    if "namespaceSelector" in peer:
        if not labels_match(peer["namespaceSelector"], other.namespace_labels):
            return False
    elif other.namespace != policy_namespace:
        return False
    return labels_match(peer.get("podSelector", {}), other.labels)


def port_matches(rule_ports: list[dict] | None, port: tuple[str | None, int, str]) -> bool:
    if not rule_ports:
        return True
    name, number, protocol = port
    for rule in rule_ports:
        if rule.get("protocol", TCP) != protocol:
            continue
        wanted = rule.get("port")
        if wanted is None or wanted == number or (name is not None and wanted == name):
            return True
    return False


def allowed(policies: list[dict], direction: str, pod: Endpoint, other: Endpoint, port) -> bool:
    """Whether `pod` accepts this flow in `direction` (ingress: from other; egress: to
    other, on port of the destination)."""
    if pod.namespace is None:
        return True
    kind = "Ingress" if direction == "ingress" else "Egress"
    selecting = [
        p
        for p in policies
        if p["metadata"]["namespace"] == pod.namespace
        and kind in p["spec"].get("policyTypes", ["Ingress"])
        and labels_match(p["spec"]["podSelector"], pod.labels)
    ]
    if not selecting:
        return True
    peer_key = "from" if direction == "ingress" else "to"
    for policy in selecting:
        for rule in policy["spec"].get(direction, []):
            peers = rule.get(peer_key)
            if peers and not any(peer_matches(p, pod.namespace, other) for p in peers):
                continue
            if port_matches(rule.get("ports"), port):
                return True
    return False


def flows(objs: list[dict]) -> set[tuple[str, str, int, str]]:
    policies = of_kind(objs, "NetworkPolicy")
    endpoints = rendered_endpoints(objs) + external_endpoints()
    result = set()
    for src in endpoints:
        for dst in endpoints:
            for port in dst.ports:
                if allowed(policies, "egress", src, dst, port) and allowed(
                    policies, "ingress", dst, src, port
                ):
                    result.add((src.name, dst.name, port[1], port[2]))
    # Traffic among stand-ins is none of our business.
    ours = {e.name for e in rendered_endpoints(objs)}
    return {f for f in result if f[0] in ours or f[1] in ours}


def expected_flows(objs: list[dict]) -> set[tuple[str, str, int, str]]:
    names = {e.name for e in rendered_endpoints(objs)}
    app_pods = {e.name for e in rendered_endpoints(objs) if e.name != "fluent-bit"}
    dns = {(pod, "kube-dns", 53, proto) for pod in app_pods for proto in (UDP, TCP)}
    # The web and worker pods reach the same database and cache (the worker migrates too);
    # the worker alone sends mail; Prometheus alone reaches a worker.
    servers = ("web", "worker")
    # The way in reaches the front pods: the web pods, or the edge cache's. The Gateway's
    # data plane where there is an HTTPRoute; ingress-nginx only where there is an Ingress.
    front = ("edge-cache", 8080) if "edge-cache" in names else ("web", 8000)
    ways_in = {"gateway": "HTTPRoute", "ingress-nginx": "Ingress"}
    expected = {
        *{(src, *front, TCP) for src, kind in ways_in.items() if of_kind(objs, kind)},
        ("prometheus", "web", 9000, TCP),
        ("prometheus", "worker", 9000, TCP),
        *{("worker", "outside", p, TCP) for p in MAIL_PORTS},
        *dns,
    }
    if "postgres" in names:
        expected |= {(pod, "postgres", 5432, TCP) for pod in servers}
        expected |= {("postgres-backup", "postgres", 5432, TCP)}
    if "redis" in names:
        expected |= {(pod, "redis", 6379, TCP) for pod in servers}
    if "cnpg-instance" in names:
        expected |= {
            *{(pod, "cnpg-pooler", 5432, TCP) for pod in servers},
            # migrations, past the pooler
            *{(pod, "cnpg-instance", 5432, TCP) for pod in servers},
            ("cnpg-pooler", "cnpg-instance", 5432, TCP),
            ("cnpg-instance", "cnpg-instance", 5432, TCP),  # replication
            ("cnpg-operator", "cnpg-instance", 5432, TCP),
            ("cnpg-operator", "cnpg-instance", 8000, TCP),
            ("prometheus", "cnpg-instance", 9187, TCP),
            ("prometheus", "cnpg-pooler", 9127, TCP),
            *{
                (pod, "outside", p, TCP)
                for pod in ("cnpg-instance", "cnpg-pooler")
                for p in (443, 6443)
            },
        }
    # The jobs (hourly housekeeping; the one-off first-admin), straight to PostgreSQL like
    # the migrations, never through PgBouncer.
    expected |= {
        (job, database, 5432, TCP)
        for job in ("housekeeping", "first-admin")
        for database in ("postgres", "cnpg-instance")
        if job in names and database in names
    }
    # Uploaded images: the object store's S3 API outside the cluster, and the in-cluster
    # one where the object-store component runs it.
    expected |= {(pod, "outside", OBJECT_STORE_PORT, TCP) for pod in IMAGE_USERS if pod in names}
    if IN_CLUSTER_STORE in names:
        expected |= {
            (pod, IN_CLUSTER_STORE, IN_CLUSTER_STORE_PORT, TCP)
            for pod in IMAGE_USERS
            if pod in names
        }
    if "edge-cache" in names:
        expected |= {("edge-cache", "web", 8000, TCP)}
    if "fluent-bit" in names:
        expected |= {
            ("fluent-bit", "kube-dns", 53, UDP),
            ("fluent-bit", "kube-dns", 53, TCP),
            ("prometheus", "fluent-bit", 2020, TCP),
            *{("fluent-bit", "outside", p, TCP) for p in (443, 6443, 24224)},
        }
    return expected


def test_network_policies_allow_exactly_the_designed_flows(objs):
    actual, expected = flows(objs), expected_flows(objs)
    assert not actual - expected, f"allowed but not designed: {sorted(actual - expected)}"
    assert not expected - actual, f"designed but blocked: {sorted(expected - actual)}"


def test_worker_reaches_its_database_and_the_relay_and_only_prometheus_reaches_it(objs):
    """Spelled out for the worker: scraping is its only way in; out, DNS, the database the
    web pods use (PgBouncer and, for its migrations, PostgreSQL), the cache, and the mail
    relay's ports outside the cluster."""
    actual = flows(objs)
    names = {e.name for e in rendered_endpoints(objs)}
    assert {f for f in actual if f[1] == "worker"} == {("prometheus", "worker", 9000, TCP)}
    out = {(f[1], f[2]) for f in actual if f[0] == "worker"}
    web_out = {(f[1], f[2]) for f in actual if f[0] == "web"}
    mail = {("outside", p) for p in MAIL_PORTS}
    assert mail <= out, "the worker reaches the relay's ports outside the cluster"
    assert out - mail == web_out, f"the worker reaches what web reaches: {sorted(out ^ web_out)}"
    database = {"postgres", "cnpg-pooler", "cnpg-instance"} & names
    assert database and {(d, 5432) for d in database} <= out
    housekeeping = {(f[1], f[2]) for f in actual if f[0] == "housekeeping"}
    stores = {("outside", OBJECT_STORE_PORT)}
    if IN_CLUSTER_STORE in names:
        stores.add((IN_CLUSTER_STORE, IN_CLUSTER_STORE_PORT))
    assert (
        housekeeping
        == {("kube-dns", 53)} | {(d, 5432) for d in database - {"cnpg-pooler"}} | stores
    ), "housekeeping: DNS, PostgreSQL and the object store only"


def test_only_the_image_users_reach_the_object_store(overlay, objs):
    """Spelled out for uploaded images: web, worker and housekeeping reach the store's S3
    API over HTTPS outside the cluster, and the in-cluster SeaweedFS (local overlay) on its
    S3 port; no other pod of ours gained HTTPS out, and nothing else reaches SeaweedFS, which
    itself reaches nothing but DNS."""
    actual = flows(objs)
    names = {e.name for e in rendered_endpoints(objs)}
    https_out = {f[0] for f in actual if f[1:] == ("outside", OBJECT_STORE_PORT, TCP)}
    # Operators' and the log shipper's own flows to the Kubernetes API and backups.
    others = {"cnpg-instance", "cnpg-pooler", "fluent-bit"} & names
    assert https_out == set(IMAGE_USERS) | others
    assert not {f for f in actual if f[0] in IMAGE_USERS and f[1] == "outside"} - {
        (pod, "outside", port, TCP)
        for pod in IMAGE_USERS
        for port in (OBJECT_STORE_PORT, *(MAIL_PORTS if pod == "worker" else ()))
    }, "the app's pods reach outside the cluster on the store's and the relay's ports only"
    if overlay == "production":
        assert IN_CLUSTER_STORE not in names, "production keeps its images in a managed bucket"
    if overlay == "local":
        assert IN_CLUSTER_STORE in names
    if IN_CLUSTER_STORE in names:
        reaching = {(f[0], f[2]) for f in actual if f[1] == IN_CLUSTER_STORE}
        assert reaching == {(pod, IN_CLUSTER_STORE_PORT) for pod in IMAGE_USERS}
        out = {(f[1], f[2], f[3]) for f in actual if f[0] == IN_CLUSTER_STORE}
        assert out == {("kube-dns", 53, UDP), ("kube-dns", 53, TCP)}


def test_from_outside_the_namespace_only_the_way_in_reaches_the_app_port(overlay, objs):
    """Spelled out for the way in: production admits the Gateway's namespace and nothing
    else from outside to the app port (ingress-nginx neither); ingress-nginx only where the
    Ingress option is used."""
    front = "edge-cache" if "edge-cache" in {e.name for e in rendered_endpoints(objs)} else "web"
    reaching = {f[0] for f in flows(objs) if f[1] == front and f[2] in (8000, 8080)}
    wanted = set()
    if of_kind(objs, "HTTPRoute"):
        wanted.add("gateway")
    if of_kind(objs, "Ingress"):
        wanted.add("ingress-nginx")
    assert reaching == wanted
    if overlay == "production":
        assert reaching == {"gateway"}
    if overlay == "local":
        assert reaching == {"ingress-nginx"}


def test_every_namespace_with_pods_has_a_default_deny(objs):
    namespaces = {e.namespace for e in rendered_endpoints(objs)}
    for namespace in namespaces:
        deny = [
            p
            for p in of_kind(objs, "NetworkPolicy")
            if p["metadata"]["namespace"] == namespace
            and p["spec"]["podSelector"] == {}
            and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
            and not p["spec"].get("ingress")
            and not p["spec"].get("egress")
        ]
        assert len(deny) == 1, f"namespace {namespace}: one default-deny policy"


def test_evaluator_sees_a_widened_policy():
    """The check can fail: an egress rule opened to everything shows up as new flows
    (web -> outside, web -> postgres-backup's ports, ...)."""
    objs = objects("local")
    policy = next(
        p for p in of_kind(objs, "NetworkPolicy") if p["metadata"]["name"] == "app-to-redis"
    )
    policy["spec"]["egress"] = [{}]
    with pytest.raises(AssertionError, match="allowed but not designed"):
        test_network_policies_allow_exactly_the_designed_flows(objs)


def test_evaluator_sees_a_worker_reached_from_elsewhere():
    objs = objects("local")
    policy = next(
        p
        for p in of_kind(objs, "NetworkPolicy")
        if p["metadata"]["name"] == "front-from-ingress-controller"
    )
    policy["spec"]["podSelector"] = {"matchLabels": {"app.kubernetes.io/name": "kubeblog"}}
    policy["spec"]["ingress"][0]["ports"] = [{"port": "metrics", "protocol": TCP}]
    with pytest.raises(AssertionError, match="allowed but not designed"):
        test_network_policies_allow_exactly_the_designed_flows(objs)
    with pytest.raises(AssertionError):
        test_worker_reaches_its_database_and_the_relay_and_only_prometheus_reaches_it(objs)


def test_evaluator_sees_the_object_store_opened_to_every_app_pod():
    """Admitting every kubeblog pod (the first-admin Job too) to SeaweedFS, or opening the
    images' egress to any port, shows up as flows nobody designed."""
    objs = objects("all-components")
    policy = next(
        p
        for p in of_kind(objs, "NetworkPolicy")
        if p["metadata"]["name"] == "object-store-from-app"
    )
    del policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchExpressions"]
    egress = next(
        p for p in of_kind(objs, "NetworkPolicy") if p["metadata"]["name"] == "app-to-object-store"
    )
    del egress["spec"]["podSelector"]["matchExpressions"]
    with pytest.raises(AssertionError, match="allowed but not designed") as failure:
        test_network_policies_allow_exactly_the_designed_flows(objs)
    assert "first-admin" in str(failure.value)
    with pytest.raises(AssertionError):
        test_only_the_image_users_reach_the_object_store("all-components", objs)


def test_evaluator_sees_a_missing_policy():
    objs = [o for o in objects("local") if o["metadata"]["name"] != "redis-from-app"]
    with pytest.raises(AssertionError, match="designed but blocked"):
        test_network_policies_allow_exactly_the_designed_flows(objs)


@pytest.mark.parametrize(
    ("selector", "complaint"),
    [
        # every namespace: the pod of another app gets in
        ({}, "allowed but not designed"),
        # the retired controller's namespace instead of the Gateway's
        ({"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}, "both"),
    ],
)
def test_evaluator_sees_the_gateway_namespace_changed(selector, complaint):
    objs = objects("production")
    policy = next(
        p for p in of_kind(objs, "NetworkPolicy") if p["metadata"]["name"] == "front-from-gateway"
    )
    policy["spec"]["ingress"][0]["from"][0]["namespaceSelector"] = selector
    with pytest.raises(AssertionError) as failure:
        test_network_policies_allow_exactly_the_designed_flows(objs)
    if complaint == "both":
        assert "allowed but not designed" in str(failure.value)
        assert "ingress-nginx" in str(failure.value)
    else:
        assert complaint in str(failure.value)
        assert "elsewhere" in str(failure.value)
    with pytest.raises(AssertionError):
        test_from_outside_the_namespace_only_the_way_in_reaches_the_app_port("production", objs)
