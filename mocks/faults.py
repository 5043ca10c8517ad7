"""Fault primitives shared by both mocks: seeded probabilities, latency distributions, and the
validation helpers that turn a fault document (a dict, a JSON or YAML file, an admin request body)
into a frozen model while reporting every problem at once.

Nothing here owns randomness: every function takes the component's own ``random.Random`` so that
one seed decides every fault the component injects.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mocks.errors import ConfigError

Probability = Annotated[float, Field(ge=0.0, le=1.0)]

M = TypeVar("M", bound=BaseModel)


def roll(rng: random.Random, probability: float) -> bool:
    """One Bernoulli draw. It always consumes exactly one number, whatever the probability, so the
    sequence of draws (and so every later fault) does not shift when a fault is switched on."""
    return rng.random() < probability


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FixedDelay(_Frozen):
    """Always the same delay."""

    distribution: Literal["fixed"] = "fixed"
    ms: float = Field(ge=0.0)

    def sample_ms(self, rng: random.Random) -> float:
        return self.ms


class UniformDelay(_Frozen):
    """A delay drawn evenly between two bounds."""

    distribution: Literal["uniform"] = "uniform"
    min_ms: float = Field(ge=0.0)
    max_ms: float = Field(ge=0.0)

    @model_validator(mode="after")
    def _ordered(self) -> UniformDelay:
        if self.min_ms > self.max_ms:
            raise ValueError(f"min_ms ({self.min_ms}) is above max_ms ({self.max_ms})")
        return self

    def sample_ms(self, rng: random.Random) -> float:
        return rng.uniform(self.min_ms, self.max_ms)


class NormalDelay(_Frozen):
    """A bell-shaped delay, clamped at zero (a delay cannot be negative)."""

    distribution: Literal["normal"] = "normal"
    mean_ms: float = Field(ge=0.0)
    stddev_ms: float = Field(ge=0.0)

    def sample_ms(self, rng: random.Random) -> float:
        return max(0.0, rng.gauss(self.mean_ms, self.stddev_ms))


class LogNormalDelay(_Frozen):
    """A right-skewed delay, the usual shape of real service latency: half the draws fall below
    ``median_ms``; ``sigma`` (of the underlying normal) sets how long the tail is."""

    distribution: Literal["lognormal"] = "lognormal"
    median_ms: float = Field(gt=0.0)
    sigma: float = Field(ge=0.0)

    def sample_ms(self, rng: random.Random) -> float:
        return rng.lognormvariate(math.log(self.median_ms), self.sigma)


def problems_of(exc: ValidationError) -> list[str]:
    """Every problem pydantic found, one short line each, located by its path in the document."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}")
    return problems


def validate(model: type[M], data: Any, where: str) -> M:
    """``model`` built from ``data``, or ConfigError naming ``where`` and every problem."""
    if not isinstance(data, dict):
        raise ConfigError(where, [f"expected an object, got {type(data).__name__}"])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(where, problems_of(exc)) from None


def load_document(path: Path) -> Any:
    """The parsed content of a JSON or YAML file (YAML is a superset of JSON, but a ``.json`` file
    gets JSON's clearer error messages)."""
    where = f"file {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(where, [exc.strerror or str(exc)]) from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            where, [f"not valid {path.suffix.lstrip('.') or 'YAML'}: {first_line}"]
        ) from None


__all__ = [
    "FixedDelay",
    "LogNormalDelay",
    "NormalDelay",
    "Probability",
    "UniformDelay",
    "load_document",
    "problems_of",
    "roll",
    "validate",
]
