"""Picks a load model by its `executor` name and validates it, reporting every problem at once.

executor: constant-vus | ramping-vus | constant-arrival-rate | ramping-arrival-rate
          | shared-iterations
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError

from generator.errors import InvalidInput
from generator.load.constant_arrival_rate import ConstantArrivalRate
from generator.load.constant_vus import ConstantVUs
from generator.load.ramping_arrival_rate import RampingArrivalRate
from generator.load.ramping_vus import RampingVUs
from generator.load.shared_iterations import SharedIterations

LoadConfig = Annotated[
    ConstantVUs | RampingVUs | ConstantArrivalRate | RampingArrivalRate | SharedIterations,
    Field(discriminator="executor"),
]
EXECUTORS = (
    "constant-vus",
    "ramping-vus",
    "constant-arrival-rate",
    "ramping-arrival-rate",
    "shared-iterations",
)
_ADAPTER: TypeAdapter[LoadConfig] = TypeAdapter(LoadConfig)


def problems_of(exc: ValidationError, prefix: str = "") -> list[str]:
    """Every error of a pydantic ValidationError as `path: message` lines."""
    out = []
    for error in exc.errors():
        path = ".".join(str(p) for p in error["loc"] if p not in EXECUTORS)
        where = ".".join(p for p in (prefix, path) if p)
        message = error["msg"].removeprefix("Value error, ")
        out.append(f"{where}: {message}" if where else message)
    return out


def parse_load(data: Any, where: str = "load") -> LoadConfig:
    if isinstance(data, dict) and data.get("executor") not in EXECUTORS:
        raise InvalidInput(
            where,
            [f"executor must be one of {', '.join(EXECUTORS)} (got {data.get('executor')!r})"],
        )
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise InvalidInput(where, problems_of(exc)) from None
