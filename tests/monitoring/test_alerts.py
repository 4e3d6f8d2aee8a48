"""The alert rules and the Grafana dashboard of components/monitoring.

- promtool (Debian's `prometheus` package) checks the rule groups of every rendered overlay
  that has them, and runs the unit tests of alerts_test.yaml on synthetic series: each alert
  fires when it should and stays silent when it should not.
- Every alert has a severity, a summary, a description and a runbook paragraph in
  docs/operations.md "Alerts and runbooks".
- Every metric name in the rules and the dashboard is one that exists: kubeblog_* names are
  read from the app's and the worker's own registries; others must be in EXTERNAL.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml
from prometheus_client import REGISTRY as APP_REGISTRY

from harness.paths import ROOT
from tests.manifests.render import HERE as MANIFEST_TESTS
from tests.manifests.render import get, objects

HERE = MANIFEST_TESTS.parent / "monitoring"
UNIT_TESTS = HERE / "alerts_test.yaml"
OPERATIONS = ROOT / "docs" / "operations.md"
# The overlays that include components/monitoring.
MONITORED = ("production", "all-components")

# Metrics of other exporters that the rules and the dashboard read, each checked against its
# exporter's source or reference.
EXTERNAL = {
    # kube-state-metrics: pod readiness (a gauge per condition="true"|"false"|"unknown").
    "kube_pod_status_ready",
    # CloudNativePG Pooler's PgBouncer exporter, SHOW POOLS (pkg/management/pgbouncer/
    # metricsserver/pools.go): clients linked to a server connection, and queued for one.
    "cnpg_pgbouncer_pools_cl_active",
    "cnpg_pgbouncer_pools_cl_waiting",
    # CloudNativePG instance exporter, default query pg_replication (seconds behind).
    "cnpg_pg_replication_lag",
    # Barman Cloud plugin (the cluster's backup method); it supersedes the in-core
    # cnpg_collector_last_available_backup_timestamp.
    "barman_cloud_cloudnative_pg_io_last_available_backup_timestamp",
}

PROMQL_WORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "offset", "inf", "nan",
}  # fmt: skip


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail(
            "promtool is missing (scripts/system-deps.sh test installs Debian's prometheus)"
        )
    return found


def run_promtool(*args, cwd) -> None:
    result = subprocess.run(
        [promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def rule_groups(overlay: str) -> list[dict]:
    return get(objects(overlay), "PrometheusRule", "kubeblog")["spec"]["groups"]


def rules(overlay: str = "production") -> list[dict]:
    return [rule for group in rule_groups(overlay) for rule in group["rules"]]


def alert_names() -> set[str]:
    return {rule["alert"] for rule in rules() if "alert" in rule}


def dashboard() -> dict:
    cm = get(objects("production"), "ConfigMap", "kubeblog-dashboard")
    return json.loads(cm["data"]["kubeblog.json"])


def dashboard_exprs() -> list[str]:
    return [t["expr"] for panel in dashboard()["panels"] for t in panel.get("targets", [])]


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords, label names and
    strings left out)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    expr = re.sub(r"\{[^}]*\}", " ", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", " ", expr)  # ranges
    expr = re.sub(r"\$\w+", " ", expr)  # Grafana variables
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\boffset\s+\w+", " ", expr)
    names = set()
    for match in re.finditer(r"(?<![\w:.])([A-Za-z_:][\w:]*)(\s*\()?", expr):
        name, call = match.groups()
        if not call and name.lower() not in PROMQL_WORDS:
            names.add(name)
    return names


def sample_names(registry) -> set[str]:
    """Every sample name the registry's metrics can expose, by type."""
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_count", "_sum", "_created"),
        "gauge": ("",),
    }
    return {
        family.name + suffix
        for family in registry.collect()
        if family.name.startswith("kubeblog_")
        for suffix in suffixes[family.type]
    }


@pytest.fixture
def exported(db) -> set[str]:
    """The kubeblog_* names the web app and the worker export (the worker's queue metrics
    read from the test database, so they are really collected)."""
    from ops import metrics  # noqa: F401 - registers the app's metrics
    from ops.worker import REGISTRY as WORKER_REGISTRY

    return sample_names(APP_REGISTRY) | sample_names(WORKER_REGISTRY)


# --- the rules ------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", MONITORED)
def test_promtool_checks_the_rendered_rules(overlay, tmp_path):
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule_groups(overlay)}))
    run_promtool("check", "rules", "rules.yaml", cwd=tmp_path)


def test_promtool_unit_tests(tmp_path):
    """alerts_test.yaml on the rendered rules (annotations aside: checked below)."""
    groups = rule_groups("production")
    for rule in (rule for group in groups for rule in group["rules"]):
        rule.pop("annotations", None)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    shutil.copy(UNIT_TESTS, tmp_path / UNIT_TESTS.name)
    run_promtool("test", "rules", UNIT_TESTS.name, cwd=tmp_path)


def test_every_alert_is_tested_firing_and_silent():
    """Each alert has a case where it fires, and one where it must not: an empty
    exp_alerts, or input series of a namespace (or pod) the expected alerts leave out."""
    fires, silent = set(), set()
    for group in yaml.safe_load(UNIT_TESTS.read_text())["tests"]:
        inputs = set()
        for series in group["input_series"]:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', series["series"]))
            inputs.add((labels.get("namespace"), labels.get("pod")))
        for case in group["alert_rule_test"]:
            name, expected = case["alertname"], case.get("exp_alerts") or []
            if not expected:
                silent.add(name)
                continue
            fires.add(name)
            wanted = [
                (a["exp_labels"].get("namespace"), a["exp_labels"].get("pod")) for a in expected
            ]
            for namespace, pod in inputs:
                if not any(n == namespace and (p is None or p == pod) for n, p in wanted):
                    silent.add(name)
    assert alert_names() - fires == set(), "alerts never expected to fire"
    assert alert_names() - silent == set(), "alerts never expected to stay silent"


def test_every_alert_has_severity_annotations_and_a_runbook():
    text = OPERATIONS.read_text()
    section = text.split("\n## Alerts and runbooks\n", 1)[1].split("\n## ", 1)[0]
    runbooks = {heading for heading in re.findall(r"^### (\w+)$", section, re.MULTILINE)}
    for rule in rules():
        if "alert" not in rule:
            continue
        name = rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        annotations = rule["annotations"]
        assert len(annotations["summary"]) > 20, name
        assert len(annotations["description"]) > 20, name
        assert annotations["runbook_url"] == f"docs/operations.md#{name.lower()}", name
        assert name in runbooks, f"docs/operations.md: no '### {name}' in Alerts and runbooks"
    assert runbooks == alert_names(), "runbooks for alerts that do not exist"


def test_burn_rate_alerts_page_and_ticket():
    """The SLO alerts come in pairs: a page (critical) for fast burns, a ticket (warning)
    for slow ones."""
    for name in ("KubeblogErrorBudgetBurn", "KubeblogLatencyBudgetBurn"):
        severities = sorted(r["labels"]["severity"] for r in rules() if r.get("alert") == name)
        assert severities == ["critical", "warning"], name


# --- the dashboard --------------------------------------------------------------------------


def test_dashboard_is_shipped_for_the_grafana_sidecar():
    for overlay in MONITORED:
        cm = get(objects(overlay), "ConfigMap", "kubeblog-dashboard")
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    titles = {panel["title"] for panel in dashboard()["panels"]}
    for title in (
        "Request rate",
        "Errors: 5xx and 503 share",
        "Latency p50 / p95 / p99",
        "Page cache lookups",
        "Database errors and deadlines",
        "Connection pool (PgBouncer)",
        "Queue depth",
        "Oldest ready task",
        "Task attempts finished",
        "Workers alive",
    ):
        assert title in titles


def test_dashboard_expressions_parse(tmp_path):
    """promtool parses each dashboard query (as a recording rule; Grafana's variables
    replaced by values)."""
    exprs = [
        e.replace("$__rate_interval", "5m").replace("$namespace", "kubeblog")
        for e in dashboard_exprs()
    ]
    group = {
        "name": "dashboard",
        "rules": [{"record": f"dashboard:q{i}", "expr": e} for i, e in enumerate(exprs)],
    }
    (tmp_path / "dashboard.yaml").write_text(yaml.safe_dump({"groups": [group]}))
    run_promtool("check", "rules", "dashboard.yaml", cwd=tmp_path)


# --- metric names ---------------------------------------------------------------------------


def test_metric_name_extraction():
    assert metric_names(
        'sum by (le) (rate(kubeblog_x_bucket{namespace="a", le="0.5"}[5m] offset 1d))'
        " / on(job) group_left(pod) kube_y or absent(kubeblog:z:ratio) > 0.1 * 3"
    ) == {"kubeblog_x_bucket", "kube_y", "kubeblog:z:ratio"}


def test_every_metric_name_exists(exported):
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    assert {"kubeblog_tasks", "kubeblog_workers_alive", "kubeblog_http_requests_total"} <= exported
    used = set()
    for expr in [rule["expr"] for rule in rules()] + dashboard_exprs():
        used |= metric_names(expr)
    unknown = {
        name
        for name in used
        if name not in recorded
        and not (name.startswith("kubeblog_") and name in exported)
        and not (not name.startswith("kubeblog") and name in EXTERNAL)
    }
    assert not unknown, f"metric names that nothing exports: {sorted(unknown)}"
    assert used >= EXTERNAL, f"allowed but unused: {sorted(EXTERNAL - used)}"
