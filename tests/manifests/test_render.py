"""Every overlay renders, and what it renders is valid for the Kubernetes versions we support.

Built-in kinds: `kubernetes-validate --strict` (the schemas of each Kubernetes release, with
unknown fields rejected). Custom resources (CloudNativePG, Barman Cloud, Prometheus
Operator, KEDA, Gateway API): the closed JSON Schemas in crd_schemas.yaml, see the note at its
top.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from harness.paths import ROOT
from tests.manifests.render import (
    CRD_API_GROUPS,
    DOCS,
    HERE,
    K8S,
    OVERLAYS,
    get,
    is_custom_resource,
    objects,
    of_kind,
    release_version,
    render,
)

# The oldest supported release is 1.30: the web pods' preStop uses the native sleep action
# (PodLifecycleSleepAction, on by default from 1.30). The newest is the newest release whose
# schemas kubernetes-validate ships; every release in between is checked too.
OLDEST = (1, 30)
NEWEST = tuple(int(p) for p in kubernetes_validate.latest_version().split(".")[:2])
KUBERNETES_VERSIONS = [f"1.{minor}.0" for minor in range(OLDEST[1], NEWEST[1] + 1)]
KUBERNETES_VALIDATE = str(Path(sys.executable).parent / "kubernetes-validate")

CRD = yaml.safe_load((HERE / "crd_schemas.yaml").read_text())


def test_supported_versions_include_the_issue_floor():
    assert "1.30.0" in KUBERNETES_VERSIONS
    assert "1.33.0" in KUBERNETES_VERSIONS


def test_overlay_renders(overlay):
    assert "kind: Deployment" in render(overlay)


def test_components_are_components():
    """Each components/<feature>/ is a kustomize Component (opt-in, reusable)."""
    kustomizations = sorted((K8S / "components").glob("*/kustomization.yaml"))
    assert len(kustomizations) >= 5
    for path in kustomizations:
        doc = yaml.safe_load(path.read_text())
        assert doc["kind"] == "Component", path
        assert doc["apiVersion"] == "kustomize.config.k8s.io/v1alpha1", path


def test_every_component_has_a_readme():
    """components/<feature>/README.md says when to use it, the overlay line, what it needs
    and what it adds."""
    for path in sorted((K8S / "components").glob("*/kustomization.yaml")):
        name = path.parent.name
        readme = path.parent / "README.md"
        assert readme.is_file(), f"components/{name} has no README.md"
        text = readme.read_text()
        assert f"- ../../components/{name}\n" in text, f"components/{name}: the overlay line"
        for part in ("**When:**", "**How:**", "**Needs:**", "**Adds:**"):
            assert part in text, f"components/{name}/README.md: no {part}"


def test_the_version_is_written_once():
    """components/version holds pyproject.toml's version, and no other manifest names it
    (the base's image has no tag)."""
    version = release_version()
    component = K8S / "components" / "version" / "kustomization.yaml"
    assert yaml.safe_load(component.read_text())["images"] == [
        {"name": "kubeblog", "newTag": version}
    ], "components/version must name pyproject.toml's version"
    holders = [p for p in sorted(K8S.rglob("*")) if p.is_file() and version in p.read_text()]
    assert holders == [component]


def test_no_deprecated_kustomize_fields():
    """`labels:` instead of commonLabels (which also rewrites selectors); `patches:`
    instead of patchesStrategicMerge / patchesJson6902."""
    deprecated = {"commonLabels", "patchesStrategicMerge", "patchesJson6902", "bases", "vars"}
    paths = [*K8S.rglob("kustomization.yaml"), *HERE.rglob("kustomization.yaml")]
    for path in paths:
        used = deprecated & set(yaml.safe_load(path.read_text()))
        assert not used, f"{path.relative_to(ROOT)} uses {sorted(used)}"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_builtin_kinds_validate_strictly(overlay, version, tmp_path):
    builtin = [obj for obj in objects(overlay) if not is_custom_resource(obj)]
    manifest = tmp_path / f"{overlay}.yaml"
    manifest.write_text(yaml.safe_dump_all(builtin))
    result = subprocess.run(
        [KUBERNETES_VALIDATE, "--strict", "-k", version, str(manifest)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # An unknown kind is only a warning to the tool; here it is a failure.
    assert "Couldn't find schema" not in output, output


def test_every_custom_resource_has_a_schema(overlay):
    for obj in objects(overlay):
        if is_custom_resource(obj):
            assert f"{obj['apiVersion']} {obj['kind']}" in CRD["schemas"], obj["kind"]
        else:
            assert obj["apiVersion"].split("/")[0] not in CRD_API_GROUPS


def test_custom_resources_match_their_schemas(overlay):
    checked = 0
    for obj in objects(overlay):
        if is_custom_resource(obj):
            schema = CRD["schemas"][f"{obj['apiVersion']} {obj['kind']}"]
            jsonschema.validate(obj, schema)
            checked += 1
    if overlay != "local":
        assert checked >= 6


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"failoverQuorom": True}, "Additional properties"),
        ({"dataDurabilty": "required"}, "Additional properties"),
        ({"dataDurability": "strict"}, "is not one of"),
        ({"failoverQuorum": "true"}, "is not of type 'boolean'"),
    ],
)
def test_cluster_schema_rejects_a_misspelt_synchronous_field(change, complaint):
    """The Cluster's synchronous stanza is closed: a typo fails here, not at apply time or,
    applied without validation, by being pruned silently (failover without its quorum)."""
    cluster = get(objects("production"), "Cluster", "kubeblog-db")
    schema = CRD["schemas"]["postgresql.cnpg.io/v1 Cluster"]
    jsonschema.validate(cluster, schema)
    cluster["spec"]["postgresql"]["synchronous"].update(change)
    with pytest.raises(jsonschema.ValidationError, match=complaint):
        jsonschema.validate(cluster, schema)


def misspell(route: dict, where: str) -> None:
    """Rename one field of the HTTPRoute, as a typo would."""
    spec, rule = route["spec"], route["spec"]["rules"][0]
    if where == "parentRef":
        spec["parentRef"] = spec.pop("parentRefs")
    elif where == "backendRefss":
        rule["backendRefss"] = rule.pop("backendRefs")
    elif where == "sectioName":
        spec["parentRefs"][0]["sectioName"] = spec["parentRefs"][0].pop("sectionName")
    elif where == "backendRequestTimeout":
        rule["timeouts"]["backendRequestTimeout"] = rule["timeouts"].pop("backendRequest")
    elif where == "timeout":
        rule["timeout"] = rule.pop("timeouts")


@pytest.mark.parametrize(
    "where", ["parentRef", "backendRefss", "sectioName", "backendRequestTimeout", "timeout"]
)
def test_httproute_schema_rejects_a_misspelt_field(where):
    """The HTTPRoute is closed: a typo fails here. Applied, the API server would drop the
    unknown field, and with it the Gateway, the backend or the timeout."""
    route = get(objects("production"), "HTTPRoute", "web")
    schema = CRD["schemas"]["gateway.networking.k8s.io/v1 HTTPRoute"]
    jsonschema.validate(route, schema)
    misspell(route, where)
    with pytest.raises(jsonschema.ValidationError, match="Additional properties"):
        jsonschema.validate(route, schema)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("timeouts", "request"), "1d"),
        (("timeouts", "backendRequest"), "30"),
        (("timeouts", "request"), "0.5s"),
        (("backendRefs", 0, "port"), 0),
        (("matches", 0, "path", "type"), "Prefix"),
    ],
)
def test_httproute_schema_rejects_a_bad_value(path, value):
    route = get(objects("production"), "HTTPRoute", "web")
    node = route["spec"]["rules"][0]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(route, CRD["schemas"]["gateway.networking.k8s.io/v1 HTTPRoute"])


def documented_gateway() -> dict:
    """The example Gateway of docs/kubernetes.md "TLS with cert-manager"."""
    blocks = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(), re.DOTALL)
    (gateway,) = [
        doc
        for block in blocks
        for doc in yaml.safe_load_all(block)
        if isinstance(doc, dict) and doc.get("kind") == "Gateway"
    ]
    return gateway


def test_documented_gateway_is_valid_and_is_the_one_production_names():
    """The docs' Gateway passes the closed schema, carries cert-manager's annotation and a
    Secret for its HTTPS listener, and is what the production route attaches to: its name,
    namespace and listener, the route's host names, and routes from the app's namespace."""
    gateway = documented_gateway()
    jsonschema.validate(gateway, CRD["schemas"]["gateway.networking.k8s.io/v1 Gateway"])
    assert gateway["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
    objs = objects("production")
    route = get(objs, "HTTPRoute", "web")
    (parent,) = route["spec"]["parentRefs"]
    assert (parent["name"], parent["namespace"]) == (
        gateway["metadata"]["name"],
        gateway["metadata"]["namespace"],
    )
    listeners = gateway["spec"]["listeners"]
    (listener,) = [x for x in listeners if x["name"] == parent["sectionName"]]
    assert listener["protocol"] == "HTTPS"
    assert listener["tls"]["mode"] == "Terminate"
    assert [r["kind"] for r in listener["tls"]["certificateRefs"]] == ["Secret"]
    assert set(route["spec"]["hostnames"]) == {listener["hostname"]}
    namespaces = listener["allowedRoutes"]["namespaces"]
    app_namespace = route["metadata"]["namespace"]
    assert namespaces["from"] == "All" or (
        namespaces["from"] == "Selector"
        and namespaces["selector"]["matchLabels"] == {"kubernetes.io/metadata.name": app_namespace}
    )


def test_gateway_schema_rejects_a_misspelt_listener_field():
    gateway = documented_gateway()
    listener = next(x for x in gateway["spec"]["listeners"] if "tls" in x)
    listener["tls"]["certificateRef"] = listener["tls"].pop("certificateRefs")
    with pytest.raises(jsonschema.ValidationError, match="Additional properties"):
        jsonschema.validate(gateway, CRD["schemas"]["gateway.networking.k8s.io/v1 Gateway"])


@pytest.mark.parametrize("version", [KUBERNETES_VERSIONS[0], KUBERNETES_VERSIONS[-1]])
def test_pooler_pod_template_is_a_valid_pod_template(version):
    for pooler in of_kind(objects("production"), "Pooler"):
        template = {
            "apiVersion": "v1",
            "kind": "PodTemplate",
            "metadata": {"name": pooler["metadata"]["name"]},
            "template": pooler["spec"]["template"],
        }
        kubernetes_validate.validate(template, version, strict=True)


def test_pgbouncer_parameters_are_ones_the_operator_accepts():
    allowed = set(CRD["pgbouncer_parameters"])
    for pooler in of_kind(objects("production"), "Pooler"):
        unknown = set(pooler["spec"]["pgbouncer"].get("parameters", {})) - allowed
        assert not unknown, f"CloudNativePG does not pass these to PgBouncer: {unknown}"


def test_custom_resource_references_resolve():
    """Pooler, ScheduledBackup and plugin parameters name objects that exist."""
    objs = objects("production")
    cluster = get(objs, "Cluster", "kubeblog-db")
    for kind in ("Pooler", "ScheduledBackup"):
        for obj in of_kind(objs, kind):
            assert obj["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
    for plugin in cluster["spec"]["plugins"]:
        get(objs, "ObjectStore", plugin["parameters"]["barmanObjectName"])
    backup = get(objs, "ScheduledBackup", "kubeblog-db-nightly")
    assert backup["spec"]["method"] == "plugin"
    plugin_names = {p["name"] for p in cluster["spec"]["plugins"]}
    assert backup["spec"]["pluginConfiguration"]["name"] in plugin_names


def test_service_monitor_finds_a_metrics_port():
    objs = objects("production")
    for monitor in of_kind(objs, "ServiceMonitor"):
        services = [
            s
            for s in of_kind(objs, "Service")
            if all(
                s["metadata"].get("labels", {}).get(k) == v
                for k, v in monitor["spec"]["selector"]["matchLabels"].items()
            )
        ]
        assert len(services) == 1, monitor["metadata"]["name"]
        port_names = {p["name"] for p in services[0]["spec"]["ports"]}
        for endpoint in monitor["spec"]["endpoints"]:
            assert endpoint["port"] in port_names


def test_overlay_list_is_complete():
    """A new overlay directory is rendered and validated like the others."""
    on_disk = {p.parent.name for p in (K8S / "overlays").glob("*/kustomization.yaml")}
    assert on_disk <= set(OVERLAYS)
