"""What a failure drill is (``bench/drills/NAME.yaml``) and how one is loaded and validated.

A drill names the stack overrides that reproduce a failure, the run-time changes made once the
stack is up (upstream faults, backend knobs), the timed actions during the load (killing and
restarting the backend), the load itself (a scenario's ``workloads``, with ``{backend.ws}``-style
placeholders for the stack's URLs), what callbench is expected to conclude (zone and the exact set
of diagnosis rules), and the fix: overrides merged over the drill's, with its own expectation.

Loading reports every problem of a file at once: the shape, the stack overrides (checked by
bench.stack.overrides), the upstream faults, the backend knobs, the load (checked by
generator.scenario), and the rule names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bench.errors import UsageError
from bench.stack import overrides as stack_overrides
from generator.diagnosis.rules import RULES as DIAGNOSIS_RULES
from generator.errors import InvalidInput
from generator.load.config import problems_of
from generator.load.durations import parse_duration
from generator.scenario import Scenario, scenario_from_dict

Zone = Literal["green", "yellow", "red"]
Action = Literal["kill_backend", "restart_backend"]

# The diagnosis rules' names (one source: generator/diagnosis); each has bench/runbooks/RULE.md.
RULES: tuple[str, ...] = tuple(DIAGNOSIS_RULES)
# Placeholders the load may use; filled from the running stack's URLs.
PLACEHOLDER = re.compile(r"\{(backend|realtime)\.(ws|http|admin|metrics)\}")
_EXAMPLE_URLS = {
    "backend.ws": "ws://127.0.0.1:1",
    "backend.http": "http://127.0.0.1:1",
    "backend.admin": "http://127.0.0.1:2",
    "backend.metrics": "http://127.0.0.1:2/metrics",
    "realtime.ws": "ws://127.0.0.1:3/v1/realtime",
    "realtime.admin": "http://127.0.0.1:4",
    "realtime.metrics": "http://127.0.0.1:4/metrics",
}

Scalar = str | int | float | bool


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Expectation(_Frozen):
    """What callbench must conclude: the zone and exactly these findings (no others); ``notes``
    are the rules expected to fire at `info` severity (a failure mode absorbed, no caller hurt),
    exactly these too."""

    zone: Zone
    findings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


class RuntimeChanges(_Frozen):
    """Applied once the stack is up, before the load: ``PUT /admin/faults`` on the upstream
    (replaces its faults as a whole) and ``PUT /admin/config`` on the backend (a partial update)."""

    realtime_faults: dict[str, Any] | None = None
    backend_config: dict[str, Any] | None = None


class TimedAction(_Frozen):
    """Something done to the stack ``at`` seconds (or a duration like ``4s``) into the load."""

    at: float | str
    action: Action

    @property
    def at_s(self) -> float:
        return parse_duration(self.at)


class Fix(_Frozen):
    """The remedy: ``stack`` is merged over the drill's overrides; ``runtime`` and ``actions``
    replace the drill's when given (``actions: []`` = none)."""

    summary: str
    stack: dict[str, Scalar | dict[str, Any]] = Field(default_factory=dict)
    runtime: RuntimeChanges | None = None
    actions: tuple[TimedAction, ...] | None = None
    expect: Expectation


class Drill(_Frozen):
    name: str
    teaches: str
    description: str = ""
    runbook: str | None = None  # bench/runbooks/NAME.md, the next step when nothing is found
    seed: int = 0
    cooldown_s: float = Field(default=4.0, ge=0)  # the monitor's watch after the load
    stack: dict[str, Scalar | dict[str, Any]] = Field(default_factory=dict)
    runtime: RuntimeChanges = RuntimeChanges()
    actions: tuple[TimedAction, ...] = ()
    load: dict[str, Any]
    quick_load: dict[str, Any] | None = None  # the smaller load `rehearse --quick` uses
    # Runs with no other drill beside it in `rehearse --jobs N`: it saturates a core by design,
    # so a neighbour would skew its figures and its neighbour's.
    solo: bool = False
    expect: Expectation
    fix: Fix

    def overrides(self, fix: bool = False) -> dict[str, str]:
        """The stack's ``--set`` pairs for the broken run, or with the fix merged over them."""
        merged = {**self.stack, **(self.fix.stack if fix else {})}
        return {key: _as_text(value) for key, value in merged.items()}

    def runtime_for(self, fix: bool = False) -> RuntimeChanges:
        return self.fix.runtime if fix and self.fix.runtime is not None else self.runtime

    def actions_for(self, fix: bool = False) -> tuple[TimedAction, ...]:
        return self.fix.actions if fix and self.fix.actions is not None else self.actions

    def expectation(self, fix: bool = False) -> Expectation:
        return self.fix.expect if fix else self.expect

    def scenario(
        self, urls: Mapping[str, str], *, quick: bool = False, fix: bool = False
    ) -> Scenario:
        """The load as a generator Scenario, placeholders filled from ``urls``
        (``{"backend.ws": ...}``)."""
        workloads = self.quick_load if quick and self.quick_load is not None else self.load
        data = {
            "name": f"drill-{self.name}" + ("-fix" if fix else ""),
            "seed": self.seed,
            "workloads": fill_placeholders(workloads, urls),
        }
        return scenario_from_dict(data, f"drill {self.name}")


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def fill_placeholders(data: Any, urls: Mapping[str, str]) -> Any:
    """A copy of ``data`` with every ``{part.key}`` in its strings replaced from ``urls``."""
    if isinstance(data, str):
        return PLACEHOLDER.sub(lambda m: urls.get(f"{m[1]}.{m[2]}", m[0]), data)
    if isinstance(data, dict):
        return {key: fill_placeholders(value, urls) for key, value in data.items()}
    if isinstance(data, list):
        return [fill_placeholders(item, urls) for item in data]
    return data


class DrillError(UsageError):
    """A drill file is invalid; ``problems`` lists every problem found (exit 2)."""

    def __init__(self, where: str, problems: list[str]) -> None:
        self.where = where
        self.problems = list(problems)
        super().__init__(f"{where}: " + "; ".join(self.problems))


def _check_overrides(pairs: Mapping[str, str], where: str) -> list[str]:
    try:
        stack_overrides.validate(pairs)
    except UsageError as exc:
        found = getattr(exc, "problems", [str(exc)])
        return [f"{where}: {p}" for p in found]
    return []


def _check_runtime(runtime: RuntimeChanges, where: str) -> list[str]:
    problems: list[str] = []
    if runtime.realtime_faults is not None:
        from mocks.errors import ConfigError
        from mocks.realtime.faults import parse_faults

        try:
            parse_faults(runtime.realtime_faults)
        except ConfigError as exc:
            problems += [f"{where}.realtime_faults: {p}" for p in exc.problems]
    if runtime.backend_config is not None:
        from mocks.backend.config import BackendConfig, updated
        from mocks.errors import ConfigError

        try:
            updated(BackendConfig(), runtime.backend_config)
        except ConfigError as exc:
            problems += [f"{where}.backend_config: {p}" for p in exc.problems]
    return problems


def _check_expect(expect: Expectation, where: str) -> list[str]:
    problems = []
    for key, names in (("findings", expect.findings), ("notes", expect.notes)):
        unknown = [name for name in names if name not in RULES]
        if unknown:
            problems.append(f"{where}.{key}: unknown rules {unknown}; known: {', '.join(RULES)}")
        elif len(set(names)) != len(names):
            problems.append(f"{where}.{key}: a rule is listed twice")
    both = set(expect.findings) & set(expect.notes)
    if both:
        problems.append(f"{where}: {sorted(both)} listed as both a finding and a note")
    return problems


def _check_load(drill: Drill) -> list[str]:
    problems: list[str] = []
    loads = [("load", drill.load)]
    if drill.quick_load is not None:
        loads.append(("quick_load", drill.quick_load))
    for where, workloads in loads:
        data = {"workloads": fill_placeholders(workloads, _EXAMPLE_URLS)}
        try:
            scenario_from_dict(data, where)
        except InvalidInput as exc:
            problems += [f"{where}: {p}" for p in exc.problems]
    return problems


def validate_drill(data: Any, where: str, expected_name: str | None = None) -> Drill:
    """A Drill from parsed YAML, or DrillError listing every problem at once."""
    if not isinstance(data, dict):
        raise DrillError(where, ["must be a mapping with name, teaches, load, expect and fix"])
    try:
        drill = Drill.model_validate(data)
    except ValidationError as exc:
        raise DrillError(where, problems_of(exc)) from None
    problems: list[str] = []
    if expected_name is not None and drill.name != expected_name:
        problems.append(f"name: {drill.name!r} must match the file name {expected_name!r}")
    problems += _check_overrides(drill.overrides(), "stack")
    problems += _check_overrides(drill.overrides(fix=True), "stack + fix.stack")
    problems += _check_runtime(drill.runtime, "runtime")
    if drill.fix.runtime is not None:
        problems += _check_runtime(drill.fix.runtime, "fix.runtime")
    problems += _check_expect(drill.expect, "expect")
    problems += _check_expect(drill.fix.expect, "fix.expect")
    if drill.runbook is not None and not (runbooks_dir() / f"{drill.runbook}.md").is_file():
        problems.append(f"runbook: no bench/runbooks/{drill.runbook}.md")
    for i, action in enumerate((*drill.actions, *(drill.fix.actions or ()))):
        try:
            parse_duration(action.at)
        except (InvalidInput, ValueError) as exc:
            problems.append(f"actions[{i}].at: {exc}")
    problems += _check_load(drill)
    if problems:
        raise DrillError(where, problems)
    return drill


def load_drill_file(path: Path) -> Drill:
    where = f"drill {path}"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DrillError(where, [f"cannot read: {exc.strerror or exc}"]) from None
    except yaml.YAMLError as exc:
        raise DrillError(where, [f"not valid YAML: {exc}"]) from None
    return validate_drill(data, where, expected_name=path.stem)


def drills_dir() -> Path:
    """The shipped drills (package data of ``bench``)."""
    return Path(str(resources.files("bench") / "drills"))


def runbooks_dir() -> Path:
    return Path(str(resources.files("bench") / "runbooks"))


def load_all(directory: Path | None = None) -> list[Drill]:
    """Every drill in ``directory`` (default: the shipped ones), sorted as ``ORDER`` lists them
    first and by name after; DrillError with the problems of every bad file at once."""
    folder = directory or drills_dir()
    drills: list[Drill] = []
    problems: list[str] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            drills.append(load_drill_file(path))
        except DrillError as exc:
            problems += [f"{path.name}: {p}" for p in exc.problems]
    if problems:
        raise DrillError(f"drills in {folder}", problems)
    rank = {name: i for i, name in enumerate(ORDER)}
    return sorted(drills, key=lambda d: (rank.get(d.name, len(ORDER)), d.name))


def find_drill(name: str, directory: Path | None = None) -> Drill:
    folder = directory or drills_dir()
    path = folder / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml"))
        raise UsageError(f"no drill named {name!r}; known: {', '.join(known)}")
    return load_drill_file(path)


# The order `callbench drills` and `rehearse` use: healthy first, then by layer.
ORDER: tuple[str, ...] = (
    "baseline",
    "pool-exhaustion",
    "pool-starvation",
    "memory-leak",
    "upstream-timeouts",
    "upstream-429-storm",
    "upstream-session-cap",
    "capacity-stress",
    "webhook-storm-rate-limit",
    "backend-crash",
    "cpu-bottleneck",
)
