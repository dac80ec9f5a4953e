"""A real Prometheus server (Debian's `prometheus`) for the metrics tests, and its HTTP query API."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from common.embedded_redis import free_port
from tests.helpers import stop_process, wait_for


def have_prometheus() -> bool:
    return shutil.which("prometheus") is not None and shutil.which("promtool") is not None


class Prometheus:
    def __init__(
        self, workdir: Path, targets: dict[str, str], interval_s: float = 0.5, rule_files: tuple[Path, ...] = ()
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        jobs = "".join(
            f"  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
            for job, target in targets.items()
        )
        interval_ms = round(interval_s * 1000)  # Prometheus takes no fractional durations
        self.config = workdir / "prometheus.yml"
        self.config.write_text(
            f"global:\n  scrape_interval: {interval_ms}ms\n  evaluation_interval: {interval_ms}ms\n"
            + ("rule_files:\n" + "".join(f"  - {path}\n" for path in rule_files) if rule_files else "")
            + f"scrape_configs:\n{jobs}"
        )
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Prometheus:
        with (self.workdir / "prometheus.log").open("wb") as log:
            self.process = subprocess.Popen(
                ["prometheus", f"--config.file={self.config}", f"--storage.tsdb.path={self.workdir / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{self.port}"],
                stdout=log, stderr=subprocess.STDOUT,
            )
        wait_for(self._ready, timeout=30, interval=0.2)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def _ready(self) -> bool:
        assert self.process is not None and self.process.poll() is None, (self.workdir / "prometheus.log").read_text()
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    def query(self, expression: str) -> list[dict[str, Any]]:
        """The instant vector of ``expression`` (each item: ``metric`` labels and ``value``)."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
        with urllib.request.urlopen(url, timeout=5) as answer:
            body = json.load(answer)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def value(self, expression: str) -> float | None:
        """A single-valued expression's value; None while it has no result."""
        result = self.query(expression)
        return float(result[0]["value"][1]) if result else None

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts pending or firing now (``labels``, ``state``)."""
        with urllib.request.urlopen(f"{self.url}/api/v1/alerts", timeout=5) as answer:
            return json.load(answer)["data"]["alerts"]

    def rule_health(self) -> dict[str, str]:
        with urllib.request.urlopen(f"{self.url}/api/v1/rules", timeout=5) as answer:
            groups = json.load(answer)["data"]["groups"]
        return {rule["name"]: rule["health"] for group in groups for rule in group["rules"]}

    def targets_up(self) -> dict[str, float]:
        return {item["metric"]["job"]: float(item["value"][1]) for item in self.query("up")}
