"""The drills against the real local stack (slow): `callbench rehearse --quick` passes — every
drill's diagnosis matches and every fix turns it green — and a drill run three times in a row
concludes the same every time."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench import exitcodes
from bench.cli import main
from bench.drilling.model import find_drill
from bench.drilling.runner import run_drill

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("pg_ctl") is None and not Path("/usr/lib/postgresql").is_dir(),
        reason="PostgreSQL server binaries are not installed",
    ),
]


@pytest.mark.timeout(900)
def test_rehearse_quick_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rehearse"
    code = main(["rehearse", "--quick", "--out", str(out)])
    table = capsys.readouterr().out
    assert code == exitcodes.PASSED, table
    results = json.loads((out / "rehearse.json").read_text())["results"]
    assert results
    assert all(r["matched"] for r in results), table
    for result in results:
        if result["fix"]:
            assert result["observed"]["zone"] == "green", result
    baseline = [r for r in results if r["drill"] == "baseline"]
    assert baseline
    assert all(r["observed"]["findings"] == [] for r in baseline)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", ["baseline", "pool-exhaustion"])
def test_three_runs_give_the_same_diagnosis(name: str, tmp_path: Path) -> None:
    drill = find_drill(name)
    observed = []
    for attempt in range(3):
        result = run_drill(drill, tmp_path / f"run{attempt}", quick=True)
        assert not result.problems, result.problems
        observed.append((result.zone, result.findings))
    expected = (drill.expect.zone, tuple(sorted(drill.expect.findings)))
    assert observed == [expected] * 3
