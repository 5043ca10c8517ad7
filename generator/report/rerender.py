"""Rebuilds a run's summary from its directory (run.json + its snapshots, metrics.jsonl and
metrics.hlog — or events.jsonl for a directory written before them, generator/metrics/readback.py
— and monitor.jsonl when the run had a monitor), for `callbench report` — also for a run that
was killed: without an end mark in its snapshots or events, or with run.json still saying
`running`, the run counts as interrupted."""

from __future__ import annotations

import json
from pathlib import Path

from generator.errors import InvalidInput
from generator.metrics.readback import has_results, run_store
from generator.metrics.snapshots import METRICS_JSONL
from generator.metrics.store import MetricsStore
from generator.metrics.thresholds import evaluate
from generator.monitor.evidence import MonitorEvidence, read_samples
from generator.report.summary import build_summary
from generator.report.summary_model import Summary
from generator.scenario import scenario_from_dict


def summary_from_run_dir(run_dir: Path) -> Summary:
    return rebuild_run(run_dir)[0]


def rebuild_run(run_dir: Path) -> tuple[Summary, MetricsStore]:
    """The run's summary and the store rebuilt from its snapshots (or events)."""
    meta_path = run_dir / "run.json"
    if not meta_path.is_file():
        missing = ["run.json is missing"]
        if not has_results(run_dir):
            missing.append(f"{METRICS_JSONL} (or events.jsonl) is missing")
        raise InvalidInput(f"run directory {run_dir}", missing)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"run directory {run_dir}", [f"run.json: {exc}"]) from None
    if not isinstance(meta, dict):
        raise InvalidInput(f"run directory {run_dir}", ["run.json: not a JSON object"])
    scenario = scenario_from_dict(meta.get("scenario"), f"{meta_path}: scenario")
    store = run_store(run_dir, meta)
    if store is None:
        raise InvalidInput(
            f"run directory {run_dir}", [f"{METRICS_JSONL} (or events.jsonl) is missing"]
        )
    if store.ended_at is None or meta.get("status") == "running":
        meta["status"] = "interrupted"
    samples = read_samples(run_dir / "monitor.jsonl")
    monitor = None
    if samples:
        raw = meta.get("monitor")
        settings = raw if isinstance(raw, dict) else {}
        monitor = MonitorEvidence(
            tuple(samples),
            store.ended_at,
            memory_tolerance=float(settings.get("memory_tolerance", 0.2)),
            db_tolerance=int(settings.get("db_tolerance", 1)),
        )
    summary = build_summary(store, evaluate(store, scenario.parsed_thresholds()), meta, monitor)
    return summary, store
