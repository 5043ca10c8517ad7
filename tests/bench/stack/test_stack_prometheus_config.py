"""The Prometheus template filled for loopback ports; promtool checks the generated files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from bench.stack.assets import asset
from bench.stack.processes import find_binary, has_binary
from bench.stack.prometheus import (
    ALERT_RULES,
    GENERATOR_TARGETS,
    POSTGRES_TARGETS,
    promtool_check,
    render_config,
    write_config,
    write_file_sd,
)

RULES_FILE = asset(ALERT_RULES)  # the packaged alerts.yml
needs_promtool = pytest.mark.skipif(not has_binary("promtool"), reason="promtool not installed")


def test_render_fills_every_target() -> None:
    text = render_config(
        prometheus="127.0.0.1:9090", backend="127.0.0.1:8001", realtime="127.0.0.1:8002"
    )
    assert "${" not in text
    config = yaml.safe_load(text)
    assert config["global"]["scrape_interval"] == "1s"
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = {
        name: job["static_configs"][0]["targets"]
        for name, job in jobs.items()
        if "static_configs" in job
    }
    assert targets == {
        "prometheus": ["127.0.0.1:9090"],
        "backend": ["127.0.0.1:8001"],
        "realtime": ["127.0.0.1:8002"],
    }
    # The generator and postgres_exporter come and go: Prometheus reads them from files.
    assert jobs["generator"]["file_sd_configs"] == [
        {"files": [str(GENERATOR_TARGETS)], "refresh_interval": "1s"}
    ]
    assert jobs["postgres"]["file_sd_configs"][0]["files"] == [str(POSTGRES_TARGETS)]
    assert config["rule_files"] == ["alerts.yml"]


def test_write_config_writes_the_target_files(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        prometheus="127.0.0.1:9090",
        backend="127.0.0.1:8001",
        realtime="127.0.0.1:8002",
        postgres="127.0.0.1:9187",
    )
    assert json.loads((tmp_path / GENERATOR_TARGETS).read_text()) == []
    assert json.loads((tmp_path / POSTGRES_TARGETS).read_text()) == [
        {"targets": ["127.0.0.1:9187"], "labels": {"part": "postgres"}}
    ]
    write_file_sd(tmp_path / GENERATOR_TARGETS, ["127.0.0.1:5000"], {"part": "generator"})
    assert json.loads((tmp_path / GENERATOR_TARGETS).read_text())[0]["targets"] == [
        "127.0.0.1:5000"
    ]
    assert sorted(p.name for p in (tmp_path / "targets").iterdir()) == [
        "generator.json",
        "postgres.json",
    ]


def test_alert_thresholds_from_the_seeds() -> None:
    rules = {
        rule["alert"]: rule
        for group in yaml.safe_load(RULES_FILE.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    assert rules["UpstreamLatencyHigh"]["expr"].endswith("> 2")
    assert rules["UpstreamLatencyCritical"]["expr"].endswith("> 5")
    assert rules["CallErrorRateHigh"]["expr"].endswith("> 0.01")
    assert rules["CallErrorRateCritical"]["expr"].endswith("> 0.05")
    assert rules["DbPoolNearlyExhausted"]["expr"].endswith(">= 0.8")
    assert "callbench_backend_db_pool_waiting" in rules["DbPoolExhausted"]["expr"]
    assert rules["BackendMemoryHigh"]["expr"].endswith("> 0.70")
    assert rules["BackendMemoryCritical"]["expr"].endswith("> 0.85")
    assert rules["BackendEventLoopLagging"]["expr"].endswith(">= 0.1")  # cpu_bottleneck's LAG_MS
    assert rules["BackendEventLoopSaturated"]["expr"].endswith(">= 0.5")
    for rule in rules.values():
        assert rule["labels"]["severity"] in ("warning", "critical")


def test_every_alert_runbook_exists() -> None:
    root = RULES_FILE.parents[3]  # above bench/: the runbooks are bench/runbooks/NAME.md
    runbooks = [
        rule["annotations"]["runbook"]
        for group in yaml.safe_load(RULES_FILE.read_text())["groups"]
        for rule in group["rules"]
        if "runbook" in rule.get("annotations", {})
    ]
    assert len(runbooks) >= 8
    assert [path for path in runbooks if not (root / path).is_file()] == []


@needs_promtool
def test_promtool_accepts_the_generated_files(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        prometheus="127.0.0.1:9090",
        backend="127.0.0.1:8001",
        realtime="127.0.0.1:8002",
        postgres="127.0.0.1:9187",
        scrape_interval="1s",
    )
    write_file_sd(tmp_path / GENERATOR_TARGETS, ["127.0.0.1:9464"], {"part": "generator"})
    checked = promtool_check("config", config)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout + checked.stderr
    rules = promtool_check("rules", tmp_path / "alerts.yml")
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "18 rules found" in rules.stdout


ALERTS_TEST = """
rule_files: [{rules}]
evaluation_interval: 1s
tests:
  - interval: 1s
    input_series:
      - series: 'up{{job="generator", instance="127.0.0.1:9464"}}'
        values: '0x30'
      - series: 'up{{job="backend", instance="127.0.0.1:8081"}}'
        values: '1x10 0x20'
    alert_rule_test:
      - eval_time: 8s
        alertname: ScrapeTargetDown
        exp_alerts: []
      - eval_time: 25s
        alertname: ScrapeTargetDown
        exp_alerts:
          - exp_labels: {{severity: critical, job: backend, instance: "127.0.0.1:8081"}}
            exp_annotations:
              summary: "backend (127.0.0.1:8081) is not answering /metrics"
"""

# The loop's 50 ms timer observed 20 times a second: on time (<= 1 ms) for 30 s, then 100-250 ms
# late. The warning fires once the late part dominates the 1m window for 10 s; never the critical.
# At 55 s the window holds 600 on-time and 500 late observations, so p95 interpolates to
# 100 + 150 * (0.95 * 1100 - 600) / 500 = 233.5 ms within the (100, 250] ms bucket.
LOOP_LAG_TEST = """
rule_files: [{rules}]
evaluation_interval: 1s
tests:
  - interval: 1s
    input_series:
      - series: 'callbench_backend_event_loop_lag_seconds_bucket{{le="0.001"}}'
        values: '0+20x30 600x30'
      - series: 'callbench_backend_event_loop_lag_seconds_bucket{{le="0.1"}}'
        values: '0+20x30 600x30'
      - series: 'callbench_backend_event_loop_lag_seconds_bucket{{le="0.25"}}'
        values: '0+20x60'
      - series: 'callbench_backend_event_loop_lag_seconds_bucket{{le="+Inf"}}'
        values: '0+20x60'
    alert_rule_test:
      - eval_time: 25s
        alertname: BackendEventLoopLagging
        exp_alerts: []
      - eval_time: 55s
        alertname: BackendEventLoopLagging
        exp_alerts:
          - exp_labels: {{severity: warning}}
            exp_annotations:
              summary: "backend event loop 233.5ms late at p95 (>= 100 ms)"
              runbook: bench/runbooks/cpu_bottleneck.md
      - eval_time: 55s
        alertname: BackendEventLoopSaturated
        exp_alerts: []
"""


@needs_promtool
@pytest.mark.parametrize(
    "template",
    [ALERTS_TEST, LOOP_LAG_TEST],
    ids=["a target down alerts, the generator between runs does not", "event loop lag"],
)
def test_alert_rules_fire_as_promised(tmp_path: Path, template: str) -> None:
    tests = tmp_path / "alerts_test.yml"
    tests.write_text(template.format(rules=json.dumps(str(RULES_FILE))))
    checked = subprocess.run(
        [find_binary("promtool"), "test", "rules", str(tests)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout + checked.stderr
