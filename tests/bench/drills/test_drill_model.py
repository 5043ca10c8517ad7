"""Drill files: every shipped drill loads, a bad one reports all its problems at once, and the
pieces a drill run relies on (override merging, URL placeholders) behave."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bench.drilling.model import (
    ORDER,
    RULES,
    DrillError,
    fill_placeholders,
    find_drill,
    load_all,
    load_drill_file,
    runbooks_dir,
    validate_drill,
)
from bench.errors import UsageError

GOOD: dict[str, object] = {
    "name": "tiny",
    "teaches": "a tiny drill",
    "stack": {"postgres.max_connections": 20, "backend.db_pool_max": 50},
    "load": {
        "calls": {
            "type": "calls",
            "config": {"url": "{backend.ws}", "turns": 1},
            "load": {"executor": "shared-iterations", "iterations": 2, "vus": 2},
        }
    },
    "expect": {"zone": "red", "findings": ["db_pool_exhausted"]},
    "fix": {
        "summary": "pgbouncer",
        "stack": {"backend.db_via": "pgbouncer"},
        "expect": {"zone": "green"},
    },
}


def test_every_shipped_drill_loads_in_order() -> None:
    drills = load_all()
    names = [d.name for d in drills]
    assert names[: len(ORDER)] == list(ORDER)
    for drill in drills:
        assert drill.teaches
        assert drill.fix.expect.zone == "green", drill.name


def test_every_expected_finding_and_runbook_has_a_runbook_file() -> None:
    folder = runbooks_dir()
    for rule in RULES:
        assert (folder / f"{rule}.md").is_file(), rule
    for drill in load_all():
        for rule in (*drill.expect.findings, *drill.fix.expect.findings):
            assert (folder / f"{rule}.md").is_file()
        if drill.runbook:
            assert (folder / f"{drill.runbook}.md").is_file()


def test_baseline_expects_green_and_nothing() -> None:
    baseline = find_drill("baseline")
    assert baseline.expect.zone == "green"
    assert baseline.expect.findings == ()


def test_a_good_drill_merges_the_fix_over_the_stack() -> None:
    drill = validate_drill(GOOD, "tiny")
    assert drill.overrides() == {"postgres.max_connections": "20", "backend.db_pool_max": "50"}
    assert drill.overrides(fix=True)["backend.db_via"] == "pgbouncer"
    assert drill.overrides(fix=True)["backend.db_pool_max"] == "50"
    assert drill.expectation(fix=True).findings == ()


def test_placeholders_are_filled_from_the_stack_urls() -> None:
    data = {"a": ["{backend.ws}/x", {"b": "{realtime.admin}"}], "n": 3, "k": "{backend.nope}"}
    urls = {"backend.ws": "ws://h:1", "realtime.admin": "http://h:2"}
    assert fill_placeholders(data, urls) == {
        "a": ["ws://h:1/x", {"b": "http://h:2"}],
        "n": 3,
        "k": "{backend.nope}",
    }
    drill = validate_drill(GOOD, "tiny")
    scenario = drill.scenario({"backend.ws": "ws://127.0.0.1:9"}, fix=True)
    assert scenario.workloads["calls"].config["url"] == "ws://127.0.0.1:9"
    assert scenario.name == "drill-tiny-fix"


def test_a_bad_drill_reports_every_problem_at_once(tmp_path: Path) -> None:
    bad = dict(GOOD)
    bad["name"] = "other"
    bad["stack"] = {"postgres.max_connections": "lots", "backend.no_such_knob": 1}
    bad["runtime"] = {
        "realtime_faults": {"stall": {"probability": 7}},
        "backend_config": {"db_pool_max": -1},
    }
    bad["actions"] = [{"at": "soon", "action": "kill_backend"}]
    bad["load"] = {"calls": {"type": "calls", "config": {}, "load": {"executor": "warp"}}}
    bad["expect"] = {"zone": "red", "findings": ["gremlins"]}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(DrillError) as caught:
        load_drill_file(path)
    text = "\n".join(caught.value.problems)
    for needle in (
        "must match the file name",
        "postgres.max_connections",
        "no_such_knob",
        "realtime_faults",
        "backend_config",
        "actions[0].at",
        "executor must be one of",
        "gremlins",
    ):
        assert needle in text, needle


def test_shape_errors_are_all_reported(tmp_path: Path) -> None:
    with pytest.raises(DrillError) as caught:
        validate_drill({"name": "x", "expect": {"zone": "purple"}, "surprise": 1}, "x")
    text = "\n".join(caught.value.problems)
    for needle in ("teaches", "load", "fix", "expect.zone", "surprise"):
        assert needle in text, needle


def test_unreadable_and_unparsable_files(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(DrillError, match="not valid YAML"):
        load_drill_file(path)
    with pytest.raises(DrillError, match="cannot read"):
        load_drill_file(tmp_path / "absent.yaml")


def test_load_all_collects_problems_of_every_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("name: a\n")
    (tmp_path / "b.yaml").write_text("- not a mapping\n")
    with pytest.raises(DrillError) as caught:
        load_all(tmp_path)
    assert any(p.startswith("a.yaml:") for p in caught.value.problems)
    assert any(p.startswith("b.yaml:") for p in caught.value.problems)


def test_unknown_drill_names_the_known_ones() -> None:
    with pytest.raises(UsageError, match="baseline"):
        find_drill("no-such-drill")
