"""Builds the Workload objects a Scenario names, by workload type: each type's builder is one
line of kinds.py (``module:function``), imported only when a scenario uses it, so a missing or
broken workload module affects only the runs that need it.

Building is when a WebSocket workload's header templates are expanded and its CA file read
(generator/workloads/ws_options.py): a variable that is not set is reported here, with the
workload and the header, before any traffic."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, cast

from pydantic import ValidationError

from generator.errors import InvalidInput
from generator.load.config import problems_of
from generator.scenario import Scenario
from generator.workloads.base import Workload
from generator.workloads.kinds import BUILDERS

Builder = Callable[[str, Mapping[str, Any], int], Workload]


def check_ws_url(url: object, where: str = "--url") -> None:
    if not isinstance(url, str) or not url.startswith(("ws://", "wss://")):
        raise InvalidInput(where, [f"a call target must be a ws:// or wss:// URL (got {url!r})"])


def build_calls(name: str, config: Mapping[str, Any], seed: int) -> Workload:
    from generator.workloads.call import CallConfig, CallWorkload

    check_ws_url(config.get("url"), f"workloads.{name}.config.url")
    try:
        parsed = CallConfig.model_validate({"seed": seed, **config})
    except ValidationError as exc:
        raise InvalidInput(f"workloads.{name}.config", problems_of(exc)) from None
    return CallWorkload(parsed, name=name)


def builder(kind: str) -> Builder | None:
    """The registered builder of workload type ``kind`` (its module imported now), or None."""
    target = BUILDERS.get(kind)
    if target is None:
        return None
    module, _, function = target.partition(":")
    return cast(Builder, getattr(importlib.import_module(module), function))


def _located(exc: InvalidInput, config_where: str) -> list[str]:
    """The problems of one workload, each saying where below its config it is (a header, the
    CA file) when that is more than the config as a whole."""
    if not exc.where.startswith("workloads"):
        return [str(exc)]
    if exc.where.startswith(config_where + "."):
        return [f"{exc.where}: {problem}" for problem in exc.problems]
    return exc.problems


def build_workloads(scenario: Scenario) -> dict[str, Workload]:
    built: dict[str, Workload] = {}
    problems: list[str] = []
    for name, spec in scenario.workloads.items():
        try:
            build = builder(spec.type)
            if build is not None:
                built[name] = build(name, spec.config, scenario.seed)
            else:
                problems.append(
                    f"workloads.{name}.type: unknown workload type {spec.type!r}; "
                    f"known: {', '.join(BUILDERS)}"
                )
        except InvalidInput as exc:
            problems.extend(_located(exc, f"workloads.{name}.config"))
    if problems:
        raise InvalidInput("scenario", problems)
    return built
