"""The drills against the real local stack (slow): `callbench rehearse --quick --repeat 3` passes
— every drill, run three times in a row, concludes exactly what it expects each time, and every
fix turns it green. Two drills run at once (each in its own process and stack; the CPU drills
alone), which keeps the 44 runs within the suite's time."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench import exitcodes
from bench.cli import main
from bench.drilling.model import load_all
from tests.support.chromium_driver import chromium_path, inspect_page

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


@pytest.mark.timeout(1200)
def test_rehearse_quick_three_times_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rehearse"
    code = main(["rehearse", "--quick", "--repeat", "3", "--jobs", "2", "--out", str(out)])
    table = capsys.readouterr().out
    assert code == exitcodes.PASSED, table
    document = json.loads((out / "rehearse.json").read_text())
    results = document["results"]
    assert all(r["matched"] for r in results), table
    drills = load_all()
    for drill in drills:
        runs = [r for r in results if r["drill"] == drill.name and not r["fix"]]
        fixes = [r for r in results if r["drill"] == drill.name and r["fix"]]
        # Three runs in a row, each the same conclusion: the drill's expectation.
        assert [r["attempt"] for r in runs] == [1, 2, 3], drill.name
        assert len({json.dumps(r["observed"], sort_keys=True) for r in runs}) == 1, runs
        assert len(fixes) == 1, drill.name
        assert fixes[0]["observed"]["zone"] == "green", fixes[0]
    baseline = [r for r in results if r["drill"] == "baseline"]
    assert all(r["observed"]["findings"] == [] for r in baseline)
    assert "each drill run 3 times in a row concluded the same every time" in table
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
