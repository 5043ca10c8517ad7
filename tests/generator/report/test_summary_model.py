"""The typed summary (generator/report/summary_model.py) against the JSON it stands for: a real
run's summary.json reads and writes back byte for byte; so do the summaries of fixtures/, written
by callbench before the typed model (monitored-run: a run whose backend died, with verdict,
findings and monitor; pre-verdict-run: from before the verdict, findings and monitor existed);
`callbench report` still reads those run directories; a malformed summary is refused with the
place that is wrong."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from bench.cli import main
from generator.metrics.store import MetricsStore
from generator.report.summary import build_summary
from generator.report.summary_model import SCHEMA, BadSummary, Summary
from tests.generator.report.html_report_support import run_ping

FIXTURES = Path(__file__).resolve().parent / "fixtures"
OLD_RUNS = ("monitored-run", "pre-verdict-run")
SCHEMA_DOC = Path(__file__).resolve().parents[3] / "docs" / "summary-schema.md"


def file_text(run: str) -> str:
    return (FIXTURES / run / "summary.json").read_text(encoding="utf-8")


def test_a_real_run_summary_round_trips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary = run_ping(tmp_path / "run", seconds=1, fail_every=3, seed=5)
    written = (tmp_path / "run" / "summary.json").read_text(encoding="utf-8")
    again = Summary.from_json(json.loads(written))
    assert again == summary  # what the run returned is what it wrote
    capsys.readouterr()
    main(["report", str(tmp_path / "run"), "--format", "json"])
    assert capsys.readouterr().out == written  # rebuilt from events.jsonl: the same bytes
    assert again.dumps() + "\n" == written
    assert again.calls.failed > 0
    assert again.errors


@pytest.mark.parametrize("run", OLD_RUNS)
def test_a_summary_written_before_the_model_round_trips(run: str) -> None:
    text = file_text(run)
    summary = Summary.from_json(json.loads(text))
    assert summary.dumps() + "\n" == text
    assert summary.calls.total > 0
    assert summary.thresholds


def test_old_sections_are_none_and_stay_absent() -> None:
    old = Summary.from_json(json.loads(file_text("pre-verdict-run")))
    assert (old.verdict, old.findings, old.monitor, old.zone) == (None, None, None, None)
    assert not {"zone", "readiness", "verdict", "findings", "monitor"} & set(old.to_json())
    new = Summary.from_json(json.loads(file_text("monitored-run")))
    assert new.verdict is not None
    assert new.zone == new.verdict.zone == "red"
    assert new.findings is not None
    assert [f.rule for f in new.findings] == ["backend_crash"]
    assert new.monitor is not None
    assert new.monitor.backend_down_samples > 0
    assert new.monitor.recovery.memory.key == "rss_bytes"


def test_numbers_keep_their_json_type() -> None:
    data = json.loads(file_text("monitored-run"))
    data["metrics"]["turn_latency"]["min"] = 0  # an int where a float usually is
    data["thresholds"][0]["value"] = 1
    back = Summary.from_json(data).to_json()
    assert json.dumps(back) == json.dumps(data)


@pytest.mark.parametrize("run", OLD_RUNS)
def test_callbench_report_reads_a_run_dir_written_before_the_model(
    run: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_dir = tmp_path / run
    copy_dir.mkdir()
    for path in (FIXTURES / run).iterdir():
        (copy_dir / path.name).write_bytes(path.read_bytes())
    recorded = json.loads(file_text(run))
    assert main(["report", str(copy_dir), "--format", "json"]) == 1  # both runs failed a threshold
    rebuilt = json.loads(capsys.readouterr().out)
    for key in ("name", "status", "calls", "metrics", "counters", "errors", "thresholds"):
        assert rebuilt[key] == recorded[key], key
    Summary.from_json(rebuilt)  # and today's summary of it reads as well


def broken(change: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(file_text("monitored-run"))
    for path, value in change.items():
        *parents, last = path.split(".")
        here = data
        for key in parents:
            here = here[int(key)] if isinstance(here, list) else here[key]
        if value is KeyError:
            del here[last]
        elif isinstance(here, list):
            here[int(last)] = value
        else:
            here[last] = value
    return data


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"schema": "callbench.summary/2"}, "schema"),
        ({"calls.total": "12"}, "calls.total"),
        ({"status": "finished"}, "status"),
        ({"metrics.turn_latency.p95": None}, "metrics.turn_latency.p95"),
        ({"thresholds.0.ok": 1}, "thresholds[0].ok"),
        ({"findings.0.severity": "fatal"}, "findings[0].severity"),
        ({"verdict.2.zone": "amber"}, "verdict[2].zone"),
        ({"monitor.recovery.memory.recovered": "no"}, "monitor.recovery.memory.recovered"),
        ({"readiness": KeyError}, "readiness"),
        ({"passed": KeyError}, "passed"),
        ({"counters.calls_total": 1.5}, "counters.calls_total"),
    ],
)
def test_a_malformed_summary_names_the_place(change: dict[str, Any], where: str) -> None:
    with pytest.raises(BadSummary) as caught:
        Summary.from_json(broken(change))
    assert caught.value.where == where


def test_every_documented_key_is_written() -> None:
    """docs/summary-schema.md's table lists exactly the keys to_json writes, in its order (the
    optional ones included)."""
    documented = [
        line.split("`")[1].split(".")[0]
        for line in SCHEMA_DOC.read_text(encoding="utf-8").splitlines()
        if line.startswith("| `")
    ]
    data = json.loads(file_text("monitored-run"))
    # written only for a run with a connections workload
    data["connections"] = {"total": 2, "held": 1, "failed": 1, "refused": 1, "peak_open": 1}
    written = list(Summary.from_json(data).to_json())
    assert list(dict.fromkeys(documented)) == written
    assert Summary.from_json(json.loads(file_text("monitored-run"))).schema == SCHEMA


def test_the_model_is_frozen() -> None:
    summary = Summary.from_json(json.loads(file_text("monitored-run")))
    with pytest.raises(AttributeError):
        summary.passed = True  # type: ignore[misc]
    assert copy.deepcopy(summary) == summary


def test_a_status_outside_the_schema_is_written_as_interrupted() -> None:
    """A slice's run.json still saying `running` (its process was killed) makes a merged run
    interrupted, never a status the schema does not have."""
    store = MetricsStore(clock=lambda: 1.0)
    store.add_counter("calls_total", 1, {"outcome": "succeeded"})
    summary = build_summary(store, [], {"name": "merged", "status": "running"})
    assert summary.status == "interrupted"
    assert not summary.passed
    assert Summary.from_json(summary.to_json()) == summary
