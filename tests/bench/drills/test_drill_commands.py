"""The drill commands without a stack: listing, bad names, the rehearsal loop and its table
(the runs themselves are replaced by recorded results), and the runbook's next step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import exitcodes
from bench.cli import main
from bench.commands.drill import rehearse
from bench.drilling.model import Drill, Expectation, find_drill, load_all
from bench.drilling.runner import DrillResult
from bench.drilling.table import next_step, render_result, render_table
from generator.diagnosis.finding import Finding
from generator.diagnosis.verdict import Zone
from generator.report.summary_model import Summary, Verdict
from tests.support.summaries import bare_summary


def _result(
    drill: Drill,
    *,
    fix: bool,
    zone: Zone,
    findings: tuple[str, ...],
    code: int = 0,
    notes: tuple[str, ...] = (),
) -> DrillResult:
    return DrillResult(
        drill=drill.name,
        fix=fix,
        expected=drill.expectation(fix),
        zone=zone,
        findings=findings,
        notes=notes,
        run_dir=Path("/tmp/nowhere"),
        exit_code=code,
        summary=_summary(zone, findings),
    )


def _summary(zone: Zone, findings: tuple[str, ...]) -> Summary:
    """A summary with only a zone and findings: what the drill's table reads of it."""
    return bare_summary(
        name="drill",
        duration_s=1.0,
        verdict=Verdict(zone, f"zone {zone}", ()),
        findings=tuple(
            Finding(f, f"{f} seen", "critical", ["grew"], f"{f}.md", "look") for f in findings
        ),
    )


def test_drills_lists_every_drill_with_what_it_teaches(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drills"]) == exitcodes.PASSED
    out = capsys.readouterr().out
    for drill in load_all():
        assert drill.name in out
        assert drill.teaches[:40] in out


def test_an_unknown_drill_is_invalid_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drill", "no-such-drill"]) == exitcodes.INVALID_INPUT
    assert "known:" in capsys.readouterr().err
    assert main(["rehearse", "--only", "nope"]) == exitcodes.INVALID_INPUT


def test_a_compose_drill_without_a_docker_engine_fails_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    out = tmp_path / "run"
    code = main(["drill", "baseline", "--runtime", "compose", "--out", str(out)])
    assert code == exitcodes.INFRASTRUCTURE
    err = capsys.readouterr().err
    assert "no Docker engine answers" in err
    assert "Traceback" not in err
    assert not (out / "stack" / "stack.json").exists()  # nothing recorded as running


def test_matching_needs_the_zone_and_exactly_the_expected_findings() -> None:
    drill = find_drill("pool-exhaustion")
    assert _result(drill, fix=False, zone="red", findings=("db_pool_exhausted",)).matched
    extra = ("db_pool_exhausted", "db_pool_starvation")
    assert not _result(drill, fix=False, zone="red", findings=extra).matched
    assert not _result(drill, fix=False, zone="yellow", findings=("db_pool_exhausted",)).matched
    assert _result(drill, fix=True, zone="green", findings=()).matched


def test_notes_must_match_too() -> None:
    """The 429 storm's fix: retries absorb the 429s, so the rule fires only as an `info` note."""
    drill = find_drill("upstream-429-storm")
    assert drill.expectation(True).notes == ("upstream_rate_limited",)
    noted = _result(drill, fix=True, zone="green", findings=(), notes=("upstream_rate_limited",))
    assert noted.matched
    assert "(note: upstream_rate_limited)" in render_table([noted])
    assert not _result(drill, fix=True, zone="green", findings=()).matched
    as_finding = ("upstream_rate_limited",)
    assert not _result(drill, fix=True, zone="green", findings=as_finding).matched
    assert not _result(drill, fix=True, zone="green", findings=("memory_leak",)).matched


def test_rehearse_runs_each_drill_then_its_fix_and_stops_when_interrupted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drills = [find_drill("baseline"), find_drill("pool-exhaustion")]
    calls: list[tuple[str, bool, Path]] = []

    def fake(drill: Drill, out: Path, *, fix: bool, quick: bool, runtime: str) -> DrillResult:
        calls.append((drill.name, fix, out))
        expected = drill.expectation(fix)
        return _result(drill, fix=fix, zone=expected.zone, findings=expected.findings)

    results, interrupted = rehearse(drills, tmp_path, quick=True, run=fake)
    assert not interrupted
    assert [(n, f) for n, f, _ in calls] == [
        ("baseline", False),
        ("baseline", True),
        ("pool-exhaustion", False),
        ("pool-exhaustion", True),
    ]
    assert calls[1][2] == tmp_path / "baseline" / "fix"
    assert all(r.matched for r in results)
    table = render_table(results)
    assert "pool-exhaustion --fix" in table
    assert "4/4 matched" in table

    def interrupted_run(
        drill: Drill, out: Path, *, fix: bool, quick: bool, runtime: str
    ) -> DrillResult:
        return _result(drill, fix=fix, zone="green", findings=(), code=exitcodes.INTERRUPTED)

    results, interrupted = rehearse(drills, tmp_path, quick=True, run=interrupted_run)
    assert interrupted
    assert len(results) == 1


def test_a_mismatch_shows_in_the_table_and_the_result() -> None:
    drill = find_drill("pool-exhaustion")
    wrong = _result(drill, fix=False, zone="red", findings=("memory_leak",))
    table = render_table([wrong])
    assert "NO" in table
    assert "0/1 matched" in table
    text = render_result(drill, wrong)
    assert "MISMATCH" in text
    assert "finding memory_leak (critical): memory_leak seen" in text
    assert "    - grew" in text
    assert "callbench drill pool-exhaustion --fix" in text


def test_every_runbook_has_a_next_step() -> None:
    names = {f for d in load_all() for f in (*d.expect.findings, d.runbook) if f}
    for name in names:
        step = next_step(name)
        assert step, name
        assert step != "TBD", name


def test_result_json_round_trip(tmp_path: Path) -> None:
    drill = find_drill("baseline")
    result = _result(drill, fix=False, zone="green", findings=())
    data: dict[str, Any] = result.to_json()
    assert data["matched"] is True
    assert data["expected"] == {"zone": "green", "findings": [], "notes": []}
    assert Expectation(**data["observed"]) == Expectation(zone="green")
