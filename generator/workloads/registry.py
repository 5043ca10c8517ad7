"""Builds the Workload objects a Scenario names, by workload type. Imports each workload module
only when a scenario uses it, so a missing or broken one affects only the runs that need it.

Building is when a WebSocket workload's header templates are expanded and its CA file read
(generator/workloads/ws_options.py): a variable that is not set is reported here, with the
workload and the header, before any traffic."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from generator.errors import InvalidInput
from generator.load.config import problems_of
from generator.scenario import Scenario
from generator.workloads.base import Workload


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


def _builder(kind: str) -> Callable[[str, Mapping[str, Any], int], Workload] | None:
    # Imported on use, so a scenario only pays for (and only breaks on) the workloads it names.
    if kind == "calls":
        return build_calls
    if kind == "http":
        from generator.workloads.http import build_http

        return build_http
    if kind == "webhooks":
        from generator.workloads.webhooks import build_webhooks

        return build_webhooks
    if kind == "connections":
        from generator.workloads.connections import build_connections

        return build_connections
    if kind == "call_burst":
        from generator.workloads.call_burst import build_call_burst

        return build_call_burst
    return None


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
            builder = _builder(spec.type)
            if builder is not None:
                built[name] = builder(name, spec.config, scenario.seed)
            else:
                problems.append(f"workloads.{name}.type: unknown workload type {spec.type!r}")
        except InvalidInput as exc:
            problems.extend(_located(exc, f"workloads.{name}.config"))
    if problems:
        raise InvalidInput("scenario", problems)
    return built
