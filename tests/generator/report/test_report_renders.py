"""The text reports of summaries written before the typed model (fixtures/): the terminal block,
report.md and junit.xml render exactly as callbench rendered them from the summary's JSON
(fixtures/rendered/, recorded then), sections a summary lacks included; and the progress line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.errors import InvalidInput
from generator.metrics.store import MetricsStore
from generator.report.junit import render_junit
from generator.report.markdown import render_markdown
from generator.report.summary import live_figures
from generator.report.summary_model import Summary, read_summary
from generator.report.terminal import render_progress, render_terminal

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RENDERERS: dict[str, Callable[[Summary], str]] = {
    "txt": render_terminal,
    "md": render_markdown,
    "xml": render_junit,
}


@pytest.mark.parametrize("run", ["monitored-run", "pre-verdict-run"])
@pytest.mark.parametrize("kind", sorted(RENDERERS))
def test_an_old_summary_renders_as_it_did(run: str, kind: str) -> None:
    summary = read_summary(FIXTURES / run / "summary.json")
    expected = (FIXTURES / "rendered" / f"{run}.{kind}").read_text(encoding="utf-8")
    assert RENDERERS[kind](summary) == expected


def test_the_sections_a_summary_has_are_the_ones_rendered() -> None:
    old = read_summary(FIXTURES / "pre-verdict-run" / "summary.json")
    new = read_summary(FIXTURES / "monitored-run" / "summary.json")
    for heading in ("## Target monitor", "## Performance targets", "## Findings"):
        assert heading not in render_markdown(old)
        assert heading in render_markdown(new)
    assert "FINDINGS (1)" in render_terminal(new)
    assert "PERFORMANCE TARGETS" not in render_terminal(old)
    assert "READINESS" in render_terminal(new)
    assert "READINESS" not in render_terminal(old)
    assert "<system-out>" not in render_junit(old)


def test_a_malformed_summary_file_is_invalid_input(tmp_path: Path) -> None:
    data = json.loads((FIXTURES / "monitored-run" / "summary.json").read_text(encoding="utf-8"))
    data["calls"]["total"] = "many"
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"calls\.total: expected an integer"):
        read_summary(path)
    path.write_text('{"schema": ', encoding="utf-8")
    with pytest.raises(InvalidInput, match="cannot be read as JSON"):
        read_summary(path)


def test_the_progress_line_shows_the_live_figures() -> None:
    store = MetricsStore(clock=lambda: 2.5)
    for ok in (True, True, False):
        store.add_counter("calls_total", 1, {"outcome": "succeeded" if ok else "failed"})
        store.add_counter("iterations", 1)
    store.add_counter("errors_total", 1, {"kind": "http_503"})
    store.add_trend("turn_latency", 120.0)
    line = render_progress(live_figures(store, vus=4))
    assert "vus    4" in line
    assert "calls ok 2 failed 1" in line
    assert "iterations 3  errors 1  dropped 0" in line
    assert line.endswith("turn p95 120ms")
