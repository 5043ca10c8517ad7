"""``--set PART.KEY=VALUE`` for ``callbench up``: parsing and validation into ``StackSettings``.

Every problem is reported at once (unknown part, unknown key with the valid ones listed, bad value).
``backend.*`` keys are checked against ``mocks.backend.config.BackendConfig``'s fields (type and
constraints) when that module is importable; they reach the backend as its own ``--set`` flags.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, TypeAdapter, ValidationError

from bench.errors import UsageError

DbVia = Literal["direct", "pgbouncer"]
Toggle = Literal["auto", "on", "off"]

# Keys the stack owns itself for the backend: it fills them from the parts it started.
_BACKEND_MANAGED = {"db_dsn": "the stack's Postgres/PgBouncer DSN", "upstream_url": "the mock"}


def _int(lo: int, hi: int) -> Callable[[str], object]:
    def check(text: str) -> object:
        value = int(text)
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return value

    return check


def _choice(*options: str) -> Callable[[str], object]:
    def check(text: str) -> object:
        if text not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return text

    return check


def _json_object(text: str) -> object:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("must be a JSON object")
    return value


def _duration(text: str) -> object:
    if not text or not text[:-1].isdigit() or text[-1] not in "sm":
        raise ValueError("must be a Prometheus duration such as 1s, 15s or 1m")
    return text


# The stack's own knobs: part -> key -> parser (raises ValueError with the reason).
STACK_KEYS: dict[str, dict[str, Callable[[str], object]]] = {
    "postgres": {"max_connections": _int(5, 10_000)},
    "pgbouncer": {
        "enabled": _choice("auto", "on", "off"),
        "default_pool_size": _int(1, 10_000),
        "max_client_conn": _int(1, 100_000),
    },
    "realtime": {
        "seed": _int(-(2**63), 2**63 - 1),
        "greeting_ms": _int(0, 600_000),
        "answer_ms": _int(0, 600_000),
        "faults": _json_object,
    },
    "prometheus": {"enabled": _choice("auto", "on", "off"), "scrape_interval": _duration},
    "backend": {"db_via": _choice("direct", "pgbouncer")},
}


class OverridesError(UsageError):
    """Bad ``--set`` items; ``problems`` holds every one (the CLI exits 2)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid --set: " + "; ".join(self.problems))


@dataclass(frozen=True)
class StackSettings:
    """The validated knobs of one ``up``; ``raw`` keeps the user's strings for stack.json."""

    max_connections: int = 20
    pgbouncer: Toggle = "auto"
    pgbouncer_pool_size: int = 10
    pgbouncer_max_client_conn: int = 1000
    db_via: DbVia = "direct"
    backend: Mapping[str, str] = field(default_factory=dict)
    realtime_seed: int = 0
    realtime_greeting_ms: int | None = None
    realtime_answer_ms: int | None = None
    realtime_faults: Mapping[str, Any] | None = None
    prometheus: Toggle = "auto"
    scrape_interval: str = "1s"
    raw: Mapping[str, str] = field(default_factory=dict)


def _split_pairs(pairs: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    result: dict[str, str] = {}
    problems = []
    for item in pairs:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            problems.append(f"`{item}` is not KEY=VALUE (e.g. postgres.max_connections=20)")
            continue
        result[key.strip()] = value
    return result, problems


def parse_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """``["a.b=1", ...]`` -> ``{"a.b": "1"}``, validated: UsageError lists every problem found
    (malformed items, unknown parts or keys, bad values) at once."""
    result, problems = _split_pairs(pairs)
    try:
        validate(result)
    except OverridesError as exc:
        problems.extend(exc.problems)
    if problems:
        raise OverridesError(problems)
    return result


def _backend_checkers() -> dict[str, Callable[[str], object]] | None:
    """One checker per BackendConfig field, or None when the backend is not importable yet."""
    try:
        module = importlib.import_module("mocks.backend.config")
    except ImportError:
        return None
    model: type[BaseModel] = module.BackendConfig
    checkers: dict[str, Callable[[str], object]] = {}
    for name, info in model.model_fields.items():
        if name in _BACKEND_MANAGED:
            continue
        annotation: Any = info.annotation
        if info.metadata:
            annotation = Annotated[(annotation, *info.metadata)]
        adapter: TypeAdapter[Any] = TypeAdapter(annotation)
        checkers[name] = _adapter_check(adapter)
    return checkers


def _adapter_check(adapter: TypeAdapter[Any]) -> Callable[[str], object]:
    def check(text: str) -> object:
        try:
            return adapter.validate_strings(text)
        except ValidationError as exc:
            first = exc
        try:  # lists, dicts and null arrive as JSON
            return adapter.validate_json(text)
        except ValidationError:
            raise ValueError("; ".join(err["msg"] for err in first.errors())) from first

    return check


def validate(overrides: Mapping[str, str]) -> StackSettings:
    """Check every key and value; raise UsageError listing all the problems at once."""
    problems: list[str] = []
    values: dict[str, object] = {}
    backend_raw: dict[str, str] = {}
    backend_checkers = _backend_checkers()
    for key, text in overrides.items():
        part, dot, name = key.partition(".")
        if not dot or part not in STACK_KEYS:
            problems.append(f"unknown part in `{key}`: valid parts are {', '.join(STACK_KEYS)}")
            continue
        checker = STACK_KEYS[part].get(name)
        if checker is None and part == "backend":
            if name in _BACKEND_MANAGED:
                problems.append(f"`{key}` is set by the stack ({_BACKEND_MANAGED[name]})")
                continue
            if backend_checkers is None:
                backend_raw[name] = text  # the backend validates it when it starts
                continue
            checker = backend_checkers.get(name)
            if checker is not None:
                backend_raw[name] = text
        if checker is None:
            valid = sorted(STACK_KEYS[part]) + (
                sorted(backend_checkers or {}) if part == "backend" else []
            )
            problems.append(f"unknown key `{key}`: valid {part}.* keys are {', '.join(valid)}")
            continue
        try:
            values[key] = checker(text)
        except ValueError as exc:
            problems.append(f"bad value for `{key}`: {text!r} ({exc})")
    settings = _settings(values, backend_raw, overrides)
    problems.extend(_cross_checks(settings, overrides))
    if problems:
        raise OverridesError(problems)
    return settings


def _settings(
    values: Mapping[str, object], backend_raw: Mapping[str, str], raw: Mapping[str, str]
) -> StackSettings:
    defaults = StackSettings()
    backend = dict(backend_raw)
    db_via = values.get("backend.db_via", defaults.db_via)
    if db_via == "pgbouncer":
        # PgBouncer in transaction mode cannot keep per-connection prepared statements.
        backend.setdefault("db_statement_cache_size", "0")
    faults = values.get("realtime.faults")
    max_connections = _get_int(values, "postgres.max_connections", defaults.max_connections)
    # Unless told, size PgBouncer's pool below the cap so the cap is never what fails.
    auto_pool = max(1, min(defaults.pgbouncer_pool_size, max_connections - 4))
    return StackSettings(
        max_connections=max_connections,
        pgbouncer=values.get("pgbouncer.enabled", defaults.pgbouncer),  # type: ignore[arg-type]
        pgbouncer_pool_size=_get_int(values, "pgbouncer.default_pool_size", auto_pool),
        pgbouncer_max_client_conn=_get_int(
            values, "pgbouncer.max_client_conn", defaults.pgbouncer_max_client_conn
        ),
        db_via=db_via,  # type: ignore[arg-type]
        backend=backend,
        realtime_seed=_get_int(values, "realtime.seed", defaults.realtime_seed),
        realtime_greeting_ms=_get_opt_int(values, "realtime.greeting_ms"),
        realtime_answer_ms=_get_opt_int(values, "realtime.answer_ms"),
        realtime_faults=faults if isinstance(faults, dict) else None,
        prometheus=values.get("prometheus.enabled", defaults.prometheus),  # type: ignore[arg-type]
        scrape_interval=str(values.get("prometheus.scrape_interval", defaults.scrape_interval)),
        raw=dict(raw),
    )


def _get_int(values: Mapping[str, object], key: str, default: int) -> int:
    value = values.get(key, default)
    return value if isinstance(value, int) else default


def _get_opt_int(values: Mapping[str, object], key: str) -> int | None:
    value = values.get(key)
    return value if isinstance(value, int) else None


def _cross_checks(settings: StackSettings, raw: Mapping[str, str]) -> list[str]:
    problems = []
    # Postgres keeps superuser_reserved_connections (3) for admins; one more for monitoring.
    room = settings.max_connections - 4
    if settings.pgbouncer != "off" and settings.pgbouncer_pool_size > room:
        problems.append(
            f"pgbouncer.default_pool_size={settings.pgbouncer_pool_size} must be at most "
            f"postgres.max_connections - 4 = {room} (3 reserved slots and 1 for monitoring)"
        )
    if settings.db_via == "pgbouncer" and settings.pgbouncer == "off":
        problems.append("backend.db_via=pgbouncer needs pgbouncer.enabled to be auto or on")
    return problems
