"""`--raw-events [FILE]` on `callbench drill` and `callbench rehearse` (bench/commands/drill.py),
as on every load command: parsed the same way, a bad FILE refused before any stack starts,
handed to every run of a rehearsal (in this process or in its `callbench drill` children); and
against the real local stack (slow), a quick drill leaves the raw file beside its snapshots and
`callbench report` reads the run from either."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from bench import exitcodes
from bench.cli import build_parser, main
from bench.commands.drill import rehearse
from bench.drilling.model import Drill, find_drill
from bench.drilling.rehearsal import ChildRuns, plan
from bench.drilling.runner import DrillResult

needs_postgres = pytest.mark.skipif(
    shutil.which("pg_ctl") is None and not Path("/usr/lib/postgresql").is_dir(),
    reason="PostgreSQL server binaries are not installed",
)


def test_drill_and_rehearse_take_the_flag_as_the_load_commands_do() -> None:
    parser = build_parser()
    assert parser.parse_args(["drill", "baseline"]).raw_events is None
    assert parser.parse_args(["drill", "baseline", "--raw-events"]).raw_events == "events.jsonl"
    found = parser.parse_args(["rehearse", "--quick", "--raw-events", "run.jsonl.gz"])
    assert found.raw_events == "run.jsonl.gz"


@pytest.mark.parametrize("command", [["drill", "baseline"], ["rehearse", "--only", "baseline"]])
def test_a_file_outside_the_run_directory_is_refused_before_any_stack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    out = tmp_path / "run"
    code = main([*command, "--out", str(out), "--raw-events", str(tmp_path / "elsewhere.jsonl")])
    assert code == exitcodes.INVALID_INPUT
    err = capsys.readouterr().err
    assert "inside the run directory" in err
    assert "Traceback" not in err
    assert not out.exists()  # no stack was started, nothing written


def test_every_run_of_a_rehearsal_gets_the_file(tmp_path: Path) -> None:
    seen: list[Path | None] = []

    def fake(drill: Drill, out: Path, *, fix: bool, quick: bool, runtime: str, **rest: Any) -> Any:
        seen.append(rest.get("raw_events"))
        expected = drill.expectation(fix)
        return DrillResult(
            drill.name, fix, expected, expected.zone, expected.findings, out, exit_code=0
        )

    drills = [find_drill("baseline")]
    rehearse(drills, tmp_path, quick=True, run=fake, raw_events=Path("run.jsonl.gz"))
    assert seen == [Path("run.jsonl.gz")] * 2  # the drill and its fix
    rehearse(drills, tmp_path, quick=True, run=fake)
    assert seen[2:] == [None, None]
    step = plan(drills, tmp_path)[0][0]
    argv = ChildRuns(quick=True, runtime="local", raw_events=Path("run.jsonl.gz")).argv(step)
    assert argv[argv.index("--raw-events") :][:2] == ["--raw-events", "run.jsonl.gz"]
    assert "--raw-events" not in ChildRuns(quick=True, runtime="local").argv(step)


def report_json(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code = main(["report", str(run_dir), "--format", "json"])
    out = capsys.readouterr().out
    assert code in (exitcodes.PASSED, exitcodes.FAILED), out
    found: dict[str, Any] = json.loads(out)
    return found


@pytest.mark.slow
@needs_postgres
@pytest.mark.timeout(300)
def test_a_drill_writes_raw_events_and_report_reads_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "drill"
    code = main(["drill", "baseline", "--quick", "--out", str(run), "--raw-events", "run.jsonl.gz"])
    assert code == exitcodes.PASSED, capsys.readouterr().err
    capsys.readouterr()
    assert json.loads((run / "run.json").read_text())["raw_events"] == "run.jsonl.gz"
    with gzip.open(run / "run.jsonl.gz", "rt", encoding="utf-8") as raw:
        events = [json.loads(line) for line in raw]
    calls = [e for e in events if e.get("k") == "c" and e.get("n") == "calls_total"]
    summary = json.loads((run / "summary.json").read_text())
    assert sum(e["v"] for e in calls) == summary["calls"]["total"] > 0  # every call is there
    from_snapshots = report_json(run, capsys)
    assert from_snapshots["calls"] == summary["calls"]
    # The same run with its raw events only (no snapshots): read from them.
    raw_only = tmp_path / "raw-only"
    raw_only.mkdir()
    for name in ("run.json", "run.jsonl.gz", "monitor.jsonl"):
        shutil.copy(run / name, raw_only / name)
    from_events = report_json(raw_only, capsys)
    assert from_events["calls"] == summary["calls"]
    assert from_events["counters"] == summary["counters"]
