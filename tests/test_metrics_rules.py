"""The alert rules, the scrape config and the Grafana dashboard, checked by Prometheus's own tools:
promtool checks the files and runs tests/prometheus/alerts_test.yml (each alert on a series made to
trip it); a real Prometheus parses every dashboard query; every metric they name is one we export."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

import common.metrics.definitions  # noqa: F401  (registers the metrics)
from tests.conftest import REPO
from tests.prometheus_server import Prometheus, have_prometheus

pytestmark = pytest.mark.skipif(not have_prometheus(), reason="Debian's prometheus package (promtool)")

ALERTS = REPO / "docs" / "prometheus" / "alerts.yml"
SCRAPE = REPO / "docs" / "prometheus" / "prometheus.yml"
DASHBOARD = REPO / "docs" / "grafana" / "mlchat.json"
ALERT_TESTS = REPO / "tests" / "prometheus" / "alerts_test.yml"
COLLECTED = {"mlchat_queue_length", "mlchat_workers", "mlchat_redis_up"}  # common/metrics/queues.py


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *map(str, args)], capture_output=True, text=True, timeout=60)


def alert_names(rules: Path) -> set[str]:
    return {rule["alert"] for group in yaml.safe_load(rules.read_text())["groups"] for rule in group["rules"]}


def exported_series() -> set[str]:
    names = set(COLLECTED)
    for family in REGISTRY.collect():
        if family.name.startswith("mlchat_"):
            suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}.get(family.type, [""])
            names |= {family.name + suffix for suffix in suffixes}
    return names


def dashboard_queries() -> list[str]:
    return [target["expr"] for panel in json.loads(DASHBOARD.read_text())["panels"] for target in panel["targets"]]


def test_promtool_accepts_the_rules_and_the_scrape_config():
    """`promtool check rules` and `check config` (which loads alerts.yml through rule_files)."""
    checked = promtool("check", "rules", ALERTS)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alert_names(ALERTS))} rules found" in checked.stdout
    config = promtool("check", "config", SCRAPE)
    assert config.returncode == 0, config.stdout + config.stderr


def test_each_alert_fires_on_its_series_and_not_on_the_healthy_ones():
    """`promtool test rules`: the expected alerts, labels and annotation texts at each evaluation time."""
    tested = promtool("test", "rules", ALERT_TESTS)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    tests = yaml.safe_load(ALERT_TESTS.read_text())["tests"]
    covered = {case["alertname"] for test in tests for case in test["alert_rule_test"] if case.get("exp_alerts")}
    assert covered == alert_names(ALERTS)  # every alert has a firing case


def test_a_changed_rule_fails_its_test(tmp_path: Path):
    """The rule tests bind: a queue without workers alerting after 10 minutes instead of 5 fails them."""
    rules = ALERTS.read_text()
    changed = rules.replace("== 0\n        for: 5m", "== 0\n        for: 10m", 1)
    assert changed != rules
    (tmp_path / "docs" / "prometheus").mkdir(parents=True)
    (tmp_path / "docs" / "prometheus" / "alerts.yml").write_text(changed)
    (tmp_path / "tests" / "prometheus").mkdir(parents=True)
    (tmp_path / "tests" / "prometheus" / "alerts_test.yml").write_text(ALERT_TESTS.read_text())
    tested = promtool("test", "rules", tmp_path / "tests" / "prometheus" / "alerts_test.yml")
    assert tested.returncode != 0
    assert "MlchatQueueWithoutWorker" in tested.stdout + tested.stderr


def test_rules_and_dashboard_name_only_metrics_the_processes_export():
    """A renamed metric would leave an alert that never fires and an empty panel."""
    used = set(re.findall(r"\bmlchat_[a-z_]+", ALERTS.read_text() + DASHBOARD.read_text()))
    assert used, "no metric found"
    assert used - exported_series() == set()


def test_a_real_prometheus_parses_every_dashboard_query(tmp_path: Path):
    """Each panel's PromQL goes through Prometheus's query API (a syntax error is a 400)."""
    prometheus = Prometheus(tmp_path, {}).start()
    try:
        for expression in dashboard_queries():
            prometheus.query(expression)  # raises on an error answer
    finally:
        prometheus.stop()
    panels = json.loads(DASHBOARD.read_text())["panels"]
    titles = " ".join(panel["title"].lower() for panel in panels)
    for subject in ("wait", "jobs done", "failure", "workers", "real-time factor", "accuracy"):
        assert subject in titles
