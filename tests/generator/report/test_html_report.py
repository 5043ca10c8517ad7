"""report.html end to end: real short runs (ping workload, local aiohttp server) with a
hand-written monitor.jsonl, rendered alone and as a drill's before/after comparison, opened in
headless Chromium (charts drew, no console errors, screenshot saved), also with the network off;
plus `callbench report --format html`, an interrupted run, and charts without data."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from bench.cli import main
from generator.report.html import render_comparison_html, render_run_html, write_html_report
from generator.report.html_charts import chart_html
from generator.report.html_data import Chart, Line
from generator.report.html_sections import runbook_href
from generator.report.summary_model import read_summary
from tests.generator.report.html_report_support import (
    EXPECTED_CHARTS,
    GENERATOR_CHARTS,
    MONITOR_CHARTS,
    run_ping,
    with_diagnosis,
    write_monitor,
)
from tests.support.chromium_driver import PageReport, chromium_path, inspect_page
from tests.support.summaries import bare_summary

needs_chromium = pytest.mark.skipif(chromium_path() is None, reason="chromium not installed")
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A leaking "before the fix" run (3 s, some 503s) and a healthy "after" run (2 s)."""
    root = tmp_path_factory.mktemp("drill")
    before, after = root / "before", root / "after"
    for out, seconds, fail_every, leak in ((before, 3, 4, True), (after, 2, 0, False)):
        summary = run_ping(out, seconds=seconds, fail_every=fail_every, seed=3)
        shutil.copy(out / "report.html", out / "runner-report.html")
        write_monitor(out / "monitor.jsonl", seconds=seconds, leak=leak)
        enriched = with_diagnosis(summary, leak=leak)
        (out / "summary.json").write_text(json.dumps(enriched), encoding="utf-8")
    return before, after


def drew(report: PageReport, title: str) -> list[dict[str, object]]:
    return [
        s
        for s in report.svgs
        if s["title"] == title
        and s["aria"] == title
        and float(str(s["width"])) > 200
        and float(str(s["height"])) > 80
        and int(str(s["shapes"])) > 5
    ]


def test_runner_writes_report_html(runs: tuple[Path, Path]) -> None:
    html = (runs[0] / "runner-report.html").read_text(encoding="utf-8")
    for title in GENERATOR_CHARTS:
        assert f"<title>{title}</title>" in html.replace("&amp;", "&"), title
    # The runner ran before monitor.jsonl existed: monitor charts say so instead of drawing.
    assert html.count("no monitor.jsonl in this run") == len(MONITOR_CHARTS)
    assert "http_503" in html


def test_the_runner_page_from_its_store_equals_the_page_from_its_snapshots(
    tmp_path: Path,
) -> None:
    """The runner renders from its store's per-second rows, `callbench report` from the
    snapshot files: the same page either way."""
    run, again = tmp_path / "run", tmp_path / "again"
    summary = run_ping(run, seconds=2, fail_every=3, seed=5)
    again.mkdir()
    for name in ("run.json", "metrics.jsonl", "metrics.hlog"):
        shutil.copy(run / name, again / name)
    html = render_run_html(again, summary)
    assert html.replace(str(again), str(run)) == (run / "report.html").read_text(encoding="utf-8")
    assert "iterations in flight" in html
    assert "iterations started/s" in html


@needs_chromium
@pytest.mark.timeout(90)
async def test_run_report_draws_in_chromium(runs: tuple[Path, Path]) -> None:
    before = runs[0]
    page = write_html_report(before, read_summary(before / "summary.json"))
    assert page is not None
    html = page.read_text(encoding="utf-8")
    heading = html.split("</h1>")[0]
    assert "readiness: red" in heading  # the zone, named as the readiness verdict
    assert "thresholds: failed" in heading  # the thresholds' verdict, named as such
    assert "PASS" not in heading
    assert "Backend memory did not return to baseline" in html
    assert "&lt;b&gt;not bold" in html  # finding text is escaped
    assert "constant-arrival-rate" in html
    assert "127.0.0.1" in html
    report = await inspect_page(page, before / "chromium-profile", before / "report.png")
    for title in EXPECTED_CHARTS:
        assert len(drew(report, title)) == 1, (title, report.svgs, report.no_data)
    assert report.no_data == []
    assert report.errors == []
    assert report.resources == []
    assert "memory growth after cooldown" in html
    assert "recovery: memory" in html
    for heading in (
        "Performance targets",
        "Thresholds",
        "Diagnosis",
        "Timeline",
        "Latency percentiles",
        "Error breakdown",
    ):
        assert heading in report.headings
    assert (before / "report.png").stat().st_size > 20_000


@needs_chromium
@pytest.mark.timeout(90)
async def test_drill_comparison_draws_both_columns(runs: tuple[Path, Path]) -> None:
    before, after = runs
    page = before.parent / "comparison.html"
    page.write_text(render_comparison_html(before, after, "memory leak drill"), encoding="utf-8")
    report = await inspect_page(page, before.parent / "profile-cmp", before.parent / "cmp.png")
    assert report.errors == []
    assert report.resources == []
    for title in EXPECTED_CHARTS:
        drawn = len(drew(report, title))
        # The healthy run has no errors: that chart is a "no data" note in its column.
        assert drawn == (1 if title == "Errors by kind per second" else 2), (title, drawn)
    assert report.no_data == ["Errors by kind per second"]
    assert report.headings[0] == "memory leak drill"
    assert (before.parent / "cmp.png").stat().st_size > 20_000


@needs_chromium
@pytest.mark.timeout(90)
async def test_report_works_with_the_network_off(runs: tuple[Path, Path], tmp_path: Path) -> None:
    before, after = runs
    page = tmp_path / "comparison.html"
    page.write_text(render_comparison_html(before, after, "offline"), encoding="utf-8")
    for html in (page.read_text(encoding="utf-8"), render_run_html(before)):
        assert not EXTERNAL.findall(html)
        assert "<script" not in html
        assert "<link" not in html
        assert "@import" not in html
    report = await inspect_page(page, tmp_path / "profile", tmp_path / "offline.png", offline=True)
    assert report.errors == []
    assert len(drew(report, "Turn latency per second (ms)")) == 2
    assert sum(len(drew(report, t)) for t in EXPECTED_CHARTS) == 2 * len(EXPECTED_CHARTS) - 1


def test_cli_report_html(runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    after = runs[1]
    (after / "report.html").unlink()
    assert main(["report", str(after), "--format", "html"]) == 0
    assert capsys.readouterr().out.strip() == str(after / "report.html")
    html = (after / "report.html").read_text(encoding="utf-8")
    assert html.count('<svg role="img"') == len(EXPECTED_CHARTS) - 1
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert ids
    assert len(ids) == len(set(ids))


def test_interrupted_run_still_renders(runs: tuple[Path, Path], tmp_path: Path) -> None:
    lines = (runs[0] / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if '"k":"end"' not in line]
    (tmp_path / "metrics.jsonl").write_text("\n".join(kept) + '\n{"k":"c","s":', encoding="utf-8")
    shutil.copy(runs[0] / "metrics.hlog", tmp_path / "metrics.hlog")
    run_meta = json.loads((runs[0] / "run.json").read_text(encoding="utf-8"))
    (tmp_path / "run.json").write_text(json.dumps({**run_meta, "status": "running"}))
    html = render_run_html(tmp_path)
    assert "interrupted" in html
    assert 'aria-label="Turn latency per second (ms)"' in html
    assert html.count("no monitor.jsonl in this run") == len(MONITOR_CHARTS)


def test_charts_without_data_show_a_note(tmp_path: Path) -> None:
    empty = bare_summary(name="empty", status="interrupted", passed=False, findings=())
    html = render_run_html(tmp_path, empty)
    assert "<svg" not in html
    assert html.count('class="chart-box no-data"') == len(EXPECTED_CHARTS)
    assert "No findings" in html
    assert "thresholds: failed" in html


def test_runbook_links_are_relative(tmp_path: Path) -> None:
    href = runbook_href("docs/scenario.md#thresholds", tmp_path)
    assert href is not None
    assert not href.startswith("/")
    assert href.endswith("#thresholds")
    assert (tmp_path / href.split("#")[0]).resolve().name == "scenario.md"
    assert runbook_href("https://example.com/runbook", tmp_path) is None
    assert runbook_href("no/such/runbook.md", tmp_path) is None


def test_long_runs_are_binned_into_few_bars() -> None:
    xs = tuple(s + 0.5 for s in range(3600))
    chart = Chart(
        "Errors by kind per second", "errors", (Line("refused", xs, (2.0,) * 3600),), kind="stacked"
    )
    svg = chart_html(chart, (0.0, 3600.0), "long")
    bars = re.findall(r'<g id="long-patch_\d+"', svg)
    assert 250 <= len(bars) <= 310
    assert len(svg) < 400_000
