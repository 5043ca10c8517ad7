"""The backend's knobs: ``BackendConfig``, a frozen pydantic model whose defaults are all the
healthy setting, plus loading from a file, ``--set KEY=VALUE`` overrides and partial updates at run
time. Every way in validates the whole result and reports every problem at once (ConfigError)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mocks.errors import ConfigError

# Changing any of these means a new asyncpg pool: a pool's size and connect options are fixed.
POOL_FIELDS: frozenset[str] = frozenset(
    {"db_dsn", "db_pool_min", "db_pool_max", "db_statement_cache_size"}
)
RATE_FIELDS: frozenset[str] = frozenset(
    {"api_rate_per_min", "webhook_rate_per_min", "auth_rate_per_15min"}
)


class BackendConfig(BaseModel):
    """Every knob of the backend. Field names are a shared interface (`--set backend.KEY=V`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    db_dsn: str = "postgresql://callbench:callbench@127.0.0.1:5432/callbench"
    db_pool_min: int = Field(default=2, ge=0)
    db_pool_max: int = Field(default=10, ge=1)
    db_acquire_timeout_s: float = Field(default=5.0, gt=0)
    db_statement_cache_size: int = Field(default=100, ge=0)
    # How long a tool's transaction holds its connection: a realistic lookup plus round trips.
    # Long enough that concurrent calls need many connections at once, as in production.
    db_query_ms: float = Field(default=250.0, ge=0)
    upstream_url: str = "ws://127.0.0.1:8765/v1/realtime"
    upstream_model: str = "gpt-realtime"
    upstream_timeout_s: float = Field(default=10.0, gt=0)
    upstream_retries: Literal["backoff", "none"] = "backoff"
    upstream_max_retries: int = Field(default=3, ge=0)
    upstream_backoff_base_s: float = Field(default=0.2, ge=0)
    # The shape of the upstream protocol: "ga", or "beta" (OpenAI-Beta: realtime=v1 and the beta
    # session fields), which OpenAI refuses since its shutdown (the beta-shape-refused drill).
    upstream_api: Literal["ga", "beta"] = "ga"
    # Open a new upstream session when the upstream ends one at its maximum duration, telling it
    # the conversation so far; off, the call fails (the session-max-duration drill).
    upstream_reconnect: bool = True
    # Ignore the caller barging in: the upstream's interrupt_response off and, on Twilio calls,
    # its speech_started ignored (no clear, no truncate), so callers are talked over.
    ignore_barge_in: bool = False
    max_sessions: int = Field(default=200, ge=0)
    admission_queue: int = Field(default=0, ge=0)
    leak_upstream_sockets: bool = False
    leak_transcripts: bool = False
    leak_db_connections: bool = False
    cpu_burn_ms_per_frame: float = Field(default=0.0, ge=0)
    expose_stack_traces: bool = False
    api_rate_per_min: int = Field(default=100, ge=1)
    webhook_rate_per_min: int = Field(default=500, ge=1)
    auth_rate_per_15min: int = Field(default=10, ge=1)
    twilio_auth_token: str | None = None
    api_token: str = "callbench-dev-token"
    seed: int = 0

    @model_validator(mode="after")
    def _coherent(self) -> BackendConfig:
        problems = []
        if self.db_pool_min > self.db_pool_max:
            problems.append(
                f"db_pool_min ({self.db_pool_min}) must not exceed db_pool_max ({self.db_pool_max})"
            )
        if not self.upstream_url.startswith(("ws://", "wss://")):
            problems.append(f"upstream_url must be a ws:// or wss:// URL: {self.upstream_url!r}")
        if not self.db_dsn.startswith(("postgres://", "postgresql://")):
            problems.append("db_dsn must be a postgres:// or postgresql:// URL")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _problems(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        out.append(f"{where}: {message}" if where else message)
    return out


def build(values: Mapping[str, Any], where: str = "backend config") -> BackendConfig:
    """Validate a complete set of values (absent fields take their defaults)."""
    try:
        return BackendConfig.model_validate(dict(values))
    except ValidationError as exc:
        raise ConfigError(where, _problems(exc)) from None


def updated(config: BackendConfig, changes: Mapping[str, Any]) -> BackendConfig:
    """``config`` with ``changes`` applied, validated as a whole (unknown keys are errors)."""
    return build({**config.model_dump(), **changes}, "backend config update")


def _parse_value(text: str) -> Any:
    """``--set`` values arrive as text; JSON literals (numbers, true, null) become values."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_sets(items: Iterable[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings (``backend.`` prefix allowed) into a dict; bad shapes all reported."""
    values: dict[str, Any] = {}
    problems = []
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip().removeprefix("backend.")
        if not sep or not key:
            problems.append(f"--set {item!r}: expected KEY=VALUE")
            continue
        field = BackendConfig.model_fields.get(key)
        # Strings stay strings even when they look like JSON (a token of digits, say).
        if field is not None and field.annotation in (str, str | None) and text != "null":
            values[key] = text
        else:
            values[key] = _parse_value(text)
    if problems:
        raise ConfigError("--set", problems)
    return values


def load_file(path: Path) -> dict[str, Any]:
    """A JSON or YAML mapping of knobs (a top-level ``backend:`` section is accepted too)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read: {exc.strerror or exc}"]) from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(str(path), [f"not valid JSON/YAML: {exc}"]) from None
    if data is None:
        return {}
    if isinstance(data, dict) and isinstance(data.get("backend"), dict) and len(data) == 1:
        data = data["backend"]
    if not isinstance(data, dict):
        raise ConfigError(str(path), ["expected a mapping of knob names to values"])
    return {str(k): v for k, v in data.items()}
