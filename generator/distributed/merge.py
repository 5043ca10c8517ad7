"""Merging the run directories of several slices (worker processes or `--shard I/N` runs) into
one run directory with the usual files: run.json, the snapshots (metrics.jsonl + metrics.hlog;
combined.py), summary.json, junit.xml, report.md and report.html, thresholds evaluated on the
merged figures. Slices written before snapshots existed (events.jsonl only) are still read.

A slice's run.json carries a `slice` entry ({index, count, scenario}) naming its place and the
whole scenario it is a slice of; the merge checks that the slices belong together (same count,
no index twice), warns about missing ones, and reports every problem at once. The merged run's
status is the worst of its slices' (interrupted > aborted > completed); a slice whose snapshots
or events have no end mark was cut short and makes the merged run interrupted.

Slices are lined up by wall clock (align.py): each slice's times move by its start minus the
earliest slice's, so second k of the merged series is the same wall-clock second for all of
them even when shards started apart; the merged run starts with the earliest slice
(run.json's `wall_start`: the Unix instant second 0 of the merged series begins at; a
slice's own is recorded by `mark_slice`; `slice_offsets_s`: each slice's offset).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from generator import exitcodes
from generator.distributed.align import start_offsets, wall_start
from generator.distributed.combined import Combined, combine_run_dirs, copy_raw_events
from generator.errors import InvalidInput
from generator.metrics.readback import RAW_EVENTS_KEY, has_results
from generator.metrics.snapshots import METRICS_JSONL
from generator.metrics.thresholds import evaluate
from generator.monitor.evidence import MonitorEvidence
from generator.report.summary import build_summary
from generator.runner import RunOutcome, workload_meta, write_outputs
from generator.scenario import Scenario, scenario_from_dict

STATUS_RANK = {"completed": 0, "aborted": 1, "interrupted": 2}
SLICE_KEY = "slice"


def worst_status(statuses: Sequence[str]) -> str:
    return max(statuses, key=lambda s: STATUS_RANK.get(s, 2), default="completed")


def read_meta(run_dir: Path, problems: list[str]) -> dict[str, Any] | None:
    meta_path = run_dir / "run.json"
    if not meta_path.is_file():
        problems.append(f"{run_dir}: run.json is missing")
        if not has_results(run_dir):
            problems.append(f"{run_dir}: {METRICS_JSONL} (or events.jsonl) is missing")
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        problems.append(f"{run_dir}/run.json: {exc}")
        return None
    if not isinstance(meta, dict):
        problems.append(f"{run_dir}/run.json: not a JSON object")
        return None
    if not has_results(run_dir, meta):
        problems.append(f"{run_dir}: {METRICS_JSONL} (or events.jsonl) is missing")
        return None
    return meta


def mark_slice(run_dir: Path, index: int, count: int, whole: Scenario) -> None:
    """Records in a finished slice's run.json which slice it is and of what, and the
    wall-clock instant its store started (align.py)."""
    path = run_dir / "run.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta[SLICE_KEY] = {"index": index, "count": count, "scenario": whole.model_dump(mode="json")}
    meta["wall_start"] = wall_start(run_dir, meta)
    path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def _whole_scenario(metas: Sequence[dict[str, Any]], problems: list[str]) -> Scenario | None:
    slices = [m.get(SLICE_KEY) for m in metas]
    if all(isinstance(s, dict) for s in slices):
        infos = [s for s in slices if isinstance(s, dict)]
        counts = {s.get("count") for s in infos}
        if len(counts) > 1:
            splits = ", ".join(sorted(map(str, counts)))
            problems.append(f"the slices come from different splits (N = {splits})")
            return None
        indices = [s.get("index") for s in infos]
        twice = sorted({str(i) for i in indices if indices.count(i) > 1})
        if twice:
            problems.append(f"slice index given more than once: {', '.join(twice)}")
        count = int(next(iter(counts)) or 0)
        missing = sorted(set(range(count)) - {i for i in indices if isinstance(i, int)})
        if missing and not twice:
            print(
                f"callbench: merging {len(infos)} of {count} slices (missing: "
                + ", ".join(map(str, missing))
                + "); the figures cover only what ran",
                file=sys.stderr,
            )
        raw = infos[0].get("scenario")
    else:
        raw = metas[0].get("scenario")  # plain run directories: the first one's thresholds
    try:
        return scenario_from_dict(raw, "merged scenario")
    except InvalidInput as exc:
        problems.extend(exc.problems)
        return None


def merge_run_dirs(
    run_dirs: Sequence[Path],
    out_dir: Path,
    *,
    scenario: Scenario | None = None,
    status: str | None = None,
    extra_meta: dict[str, Any] | None = None,
    monitor: Callable[[float | None], MonitorEvidence] | None = None,
    runbooks: Path | None = None,
    combined: Combined | None = None,
) -> RunOutcome:
    """Merges ``run_dirs`` into ``out_dir``; thresholds come from ``scenario`` (default: the
    whole scenario the slices name). ``status``, when given, is the merged run's status as is
    (the parent of workers knows why they stopped); else the worst of the slices'. ``monitor``
    gives the target monitor's evidence for the merged load's end (a monitored `--workers` run);
    ``runbooks``, where the findings' runbooks are (the HTML report's links). ``combined``: the
    slices' figures already combined into ``out_dir`` (the parent of workers does it as their
    snapshots arrive); else they are read from ``run_dirs``."""
    problems: list[str] = []
    if not run_dirs:
        problems.append("no run directory to merge")
    metas = [read_meta(d, problems) for d in run_dirs]
    found = [m for m in metas if m is not None]
    if scenario is None and found and len(found) == len(metas):
        scenario = _whole_scenario(found, problems)
    if problems or scenario is None:
        raise InvalidInput("merge", problems or ["no scenario found in the run directories"])
    out_dir.mkdir(parents=True, exist_ok=True)
    ids = [str(m.get(SLICE_KEY, {}).get("index", i)) for i, m in enumerate(found)]
    starts = [wall_start(d, m) for d, m in zip(run_dirs, found, strict=True)]
    offsets = start_offsets(starts)
    known = [s for s in starts if s is not None]
    wall = min(known) if known else None
    if combined is None:
        combined = combine_run_dirs(run_dirs, found, ids, offsets, out_dir, wall)
    else:
        combined.raw_events = copy_raw_events(run_dirs, found, ids, offsets, out_dir, wall)
    store, ends = combined.store, combined.ends
    statuses = [str(m.get("status", "interrupted")) for m in found]
    statuses += ["interrupted" for end in ends if end is None]
    started = sorted(str(m["started_at"]) for m in found if m.get("started_at"))
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    meta: dict[str, Any] = {
        "name": scenario.name,
        "started_at": started[0] if started else now,
        "wall_start": wall,
        "slice_offsets_s": {i: round(o, 6) for i, o in zip(ids, offsets, strict=True)},
        "scenario": scenario.model_dump(mode="json"),
        "workloads": workload_meta(scenario),
        "status": status or worst_status(statuses),
        "merged_from": [str(d) for d in run_dirs],
        **(extra_meta or {}),
    }
    if combined.raw_events is not None:
        meta[RAW_EVENTS_KEY] = combined.raw_events
    (out_dir / "run.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    evidence = None if monitor is None else monitor(store.ended_at)
    summary = build_summary(store, evaluate(store, scenario.parsed_thresholds()), meta, evidence)
    write_outputs(out_dir, summary, store, runbooks)
    if meta["status"] == "interrupted":
        code = exitcodes.INTERRUPTED
    else:
        code = exitcodes.PASSED if summary.passed else exitcodes.FAILED
    return RunOutcome(summary, code, out_dir)
