"""What the monitor watches and how: `MonitorConfig` (frozen, every problem reported at once),
built by the caller from plain values — the CLI layer's flags for a real deployment, or its
adapter of the bench's own stack (bench/monitoring.py).

Every source is optional; a config with none watches nothing (`is_empty`), and the runner then
runs without a monitor.
"""

from __future__ import annotations

from typing import Self
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from generator.errors import InvalidInput


def _http_url_problem(name: str, url: str | None) -> str | None:
    if url is None:
        return None
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return f"{name}: {url!r} is not an http:// or https:// URL"
    return None


class MonitorConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    metrics_url: str | None = None  # the backend's Prometheus /metrics
    health_url: str | None = None  # /healthz with poolStats
    memory_url: str | None = None  # /debug/memory with rss_mb
    upstream_metrics_url: str | None = None  # the Realtime upstream's /metrics
    db_dsn: str | None = None  # a (superuser) DSN to read pg_stat_activity
    pid: int | None = Field(default=None, gt=0)  # the backend's local process
    container: str | None = None  # or its Docker container
    interval_s: float = Field(default=1.0, gt=0)
    baseline_samples: int = Field(default=3, ge=1)
    cooldown_s: float = Field(default=60.0, ge=0)
    stop_when_recovered: bool = True  # end the cooldown early once memory and DB are back
    memory_tolerance: float = Field(default=0.2, ge=0)  # recovered: within 20 % of baseline
    db_tolerance: int = Field(default=1, ge=0)  # recovered: baseline ± 1 connection

    @model_validator(mode="after")
    def _urls(self) -> Self:
        problems = [
            p
            for p in (
                _http_url_problem("metrics_url", self.metrics_url),
                _http_url_problem("health_url", self.health_url),
                _http_url_problem("memory_url", self.memory_url),
                _http_url_problem("upstream_metrics_url", self.upstream_metrics_url),
            )
            if p
        ]
        if self.db_dsn is not None and urlparse(self.db_dsn).scheme not in (
            "postgres",
            "postgresql",
        ):
            problems.append("db_dsn: must start with postgresql://")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def is_empty(self) -> bool:
        sources = (self.metrics_url, self.health_url, self.memory_url, self.upstream_metrics_url)
        return all(s is None for s in (*sources, self.db_dsn, self.pid, self.container))


def monitor_config(**fields: object) -> MonitorConfig:
    """MonitorConfig from keyword fields, InvalidInput (every problem) when they are wrong."""
    try:
        return MonitorConfig.model_validate(fields)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {message}" if where else message)
        raise InvalidInput("monitor", problems) from None
