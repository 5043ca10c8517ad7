"""Workload types register as load models do, one line each (generator/workloads/kinds.py): every
line names an importable builder, an unknown type is refused naming the known ones, and a type
added by one line is built with its name, config and the scenario's seed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from generator.errors import InvalidInput
from generator.scenario import scenario_from_dict
from generator.workloads import kinds
from generator.workloads.base import IterationContext, Workload
from generator.workloads.registry import build_workloads, builder

LOAD = {"executor": "shared-iterations", "vus": 1, "iterations": 1}


def test_every_registered_type_names_an_importable_builder() -> None:
    assert set(kinds.BUILDERS) >= {"calls", "http", "webhooks", "connections", "call_burst"}
    for kind in kinds.BUILDERS:
        assert callable(builder(kind)), kind
    assert builder("carrier_pigeon") is None


def test_an_unknown_type_is_refused_naming_the_known_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    # Past the scenario's own check (the same table), as a scenario built in code would be.
    scenario = scenario_from_dict({"workloads": {"a": {"type": "calls", "load": LOAD}}})
    monkeypatch.setitem(kinds.BUILDERS, "calls", "generator.workloads.nowhere:build")
    with pytest.raises(ModuleNotFoundError):
        build_workloads(scenario)
    monkeypatch.delitem(kinds.BUILDERS, "calls")
    with pytest.raises(InvalidInput) as refused:
        build_workloads(scenario)
    assert "workloads.a.type: unknown workload type 'calls'" in str(refused.value)
    assert "known: http, webhooks" in str(refused.value)


class _Recorded:
    """A workload that only remembers what its builder was given."""

    def __init__(self, name: str, config: Mapping[str, Any], seed: int) -> None:
        self.name, self.config, self.seed = name, dict(config), seed

    async def setup(self) -> None:
        pass

    async def iteration(self, ctx: IterationContext) -> None:
        pass

    async def teardown(self) -> None:
        pass


def build_recorded(name: str, config: Mapping[str, Any], seed: int) -> Workload:
    return _Recorded(name, config, seed)


def test_a_type_added_by_one_line_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(kinds.BUILDERS, "recorded", f"{__name__}:build_recorded")
    monkeypatch.setattr(kinds, "WORKLOAD_TYPES", tuple(kinds.BUILDERS))
    monkeypatch.setattr("generator.scenario.WORKLOAD_TYPES", tuple(kinds.BUILDERS))
    scenario = scenario_from_dict(
        {"seed": 7, "workloads": {"r": {"type": "recorded", "config": {"x": 1}, "load": LOAD}}}
    )
    (built,) = build_workloads(scenario).values()
    assert isinstance(built, _Recorded)
    assert (built.name, built.config, built.seed) == ("r", {"x": 1}, 7)
