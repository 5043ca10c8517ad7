"""A Scenario: the validated description of a run — workloads, each with a load model, and the
thresholds that decide pass or fail. It comes from CLI flags or from a YAML file (format in
docs/scenario.md); either way every problem is reported at once.

A scenario is also what a run directory keeps (run.json, the summary, the reports): serialized,
a WebSocket workload's `headers` hold their `${VAR}` templates, never a value that might be a
secret (generator/protocols/transport.py); the object itself keeps them as given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer

from generator.errors import InvalidInput
from generator.load.config import LoadConfig, parse_load, problems_of
from generator.metrics.thresholds import CALL_DEFAULTS, Threshold, parse_thresholds
from generator.protocols.transport import REDACTED, header_pairs, redact_headers
from generator.workloads.kinds import WEBSOCKET_TYPES, WORKLOAD_TYPES


class WorkloadSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    config: dict[str, Any] = Field(default_factory=dict)
    load: LoadConfig

    @field_serializer("config")
    def _redacted(self, config: dict[str, Any]) -> dict[str, Any]:
        if self.type not in WEBSOCKET_TYPES or "headers" not in config:
            return config
        try:
            headers: Any = redact_headers(header_pairs(config["headers"]))
        except ValueError:  # a bad entry (the workload will refuse it): none of it is kept
            headers = REDACTED
        return {**config, "headers": headers}


class Scenario(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "run"
    seed: int = 0
    workloads: dict[str, WorkloadSpec] = Field(min_length=1)
    # Kept as written (k6 map or list of expressions) so run.json can re-parse it for reports.
    thresholds: Any = None

    def parsed_thresholds(self) -> list[Threshold]:
        return parse_thresholds(self.thresholds, CALL_DEFAULTS)


def scenario_from_dict(data: Any, where: str = "scenario") -> Scenario:
    """Validates a scenario, collecting problems from the shape, each workload's type and load
    model, and the thresholds before raising once."""
    if not isinstance(data, dict):
        raise InvalidInput(where, ["must be a mapping with `workloads:`"])
    problems: list[str] = []
    workloads = data.get("workloads")
    if isinstance(workloads, dict):
        for name, spec in workloads.items():
            if not isinstance(spec, dict):
                problems.append(f"workloads.{name}: must be a mapping")
                continue
            kind = spec.get("type")
            if kind not in WORKLOAD_TYPES:
                problems.append(
                    f"workloads.{name}.type: unknown workload type {kind!r}; "
                    f"known: {', '.join(WORKLOAD_TYPES)}"
                )
            try:
                parse_load(spec.get("load"), f"workloads.{name}.load")
            except InvalidInput as exc:
                problems.extend(f"workloads.{name}.load: {p}" for p in exc.problems)
    try:
        parse_thresholds(data.get("thresholds"), CALL_DEFAULTS)
    except InvalidInput as exc:
        problems.extend(f"thresholds: {p}" for p in exc.problems)
    if not problems:
        try:
            return Scenario.model_validate(data)
        except ValidationError as exc:
            problems.extend(problems_of(exc))
    raise InvalidInput(where, problems)


def load_scenario(path: Path) -> Scenario:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"scenario {path}", [f"cannot read: {exc.strerror}"]) from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"scenario {path}", [f"not valid YAML: {exc}"]) from None
    return scenario_from_dict(data, f"scenario {path}")
