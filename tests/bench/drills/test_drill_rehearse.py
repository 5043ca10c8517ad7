"""The drills against the real local stack (slow): `callbench rehearse --quick` passes — every
drill's diagnosis matches and every fix turns it green — and a drill run three times in a row
concludes the same every time."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from chromium_driver import chromium_path, inspect_page

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


# Charts both sides of a drill's comparison draw from what each run recorded.
COMPARED_CHARTS = (
    "Turn latency per second (ms)",
    "Backend RSS (MiB) with baseline and 20 % band",
    "Postgres connections vs max_connections",
)


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
    if chromium_path() is not None:
        check_comparison_page(out / "memory-leak")


def check_comparison_page(drill_dir: Path) -> None:
    """A real drill's before/after page opens in headless Chromium, offline, and draws."""
    import asyncio

    page = drill_dir / "comparison.html"
    report = asyncio.run(
        inspect_page(
            page, drill_dir / "chromium-profile", drill_dir / "comparison.png", offline=True
        )
    )
    assert report.errors == []
    assert report.resources == []  # nothing fetched: the page is self-contained
    assert "memory-leak" in report.headings[0]
    for title in COMPARED_CHARTS:
        drawn = [s for s in report.svgs if s["title"] == title and s["shapes"] > 0]
        assert len(drawn) == 2, (title, report.svgs)  # the drill and its fix, side by side
    assert (drill_dir / "comparison.png").stat().st_size > 20_000


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
