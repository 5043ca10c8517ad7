"""What a running stack is, as written to ``STATE_DIR/stack.json``: each part's URLs, ports, PID,
state and log, plus the Postgres DSNs. ``callbench up`` writes it after each part starts (so a
crashed ``up`` can still be torn down), ``status`` probes from it, ``down`` stops exactly its PIDs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from bench.errors import StackError

STATE_FILE = "stack.json"

PartStatus = Literal["starting", "running", "failed", "stopped"]


class PartState(BaseModel):
    """One process of the stack. ``urls`` keys: ``http``, ``ws``, ``admin``, ``metrics``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    pid: int | None = None
    pid_create_time: float | None = None  # guards `down` against a recycled PID
    state: PartStatus = "starting"
    urls: dict[str, str] = {}
    ports: dict[str, int] = {}
    log: str | None = None
    container: str | None = None  # the compose runtime's container name (Docker SDK)

    @property
    def url(self) -> str | None:
        """The part's main URL (WebSocket for the mocks, HTTP for Prometheus, DSN for databases)."""
        for key in ("ws", "http", "admin", "dsn"):
            if key in self.urls:
                return self.urls[key]
        return None

    @property
    def port(self) -> int | None:
        return next(iter(self.ports.values()), None)


class PostgresState(PartState):
    """The throwaway cluster; ``dsn`` is the non-superuser application role."""

    dsn: str
    admin_dsn: str
    base_dir: str
    max_connections: int


class PgBouncerState(PartState):
    """PgBouncer in transaction mode in front of the cluster."""

    dsn: str
    config_path: str
    default_pool_size: int


class StackState(BaseModel):
    """The whole stack; parts absent (``None``) were not started (binary missing or not yet)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    runtime: Literal["local", "compose"] = "local"
    state_dir: str
    overrides: dict[str, str] = {}
    postgres: PostgresState | None = None
    pgbouncer: PgBouncerState | None = None
    realtime: PartState | None = None
    backend: PartState | None = None
    pg_exporter: PartState | None = None  # postgres_exporter, when its binary is installed
    prometheus: PartState | None = None
    # The file_sd file Prometheus reads the generator's /metrics address from (local runtime);
    # a generator run watching this stack writes itself there while it runs.
    generator_targets: str | None = None

    def parts(self) -> list[PartState]:
        """Present parts in start order (``down`` walks it backwards)."""
        found = [
            self.postgres,
            self.pgbouncer,
            self.realtime,
            self.backend,
            self.pg_exporter,
            self.prometheus,
        ]
        return [part for part in found if part is not None]

    @property
    def db_dsn(self) -> str | None:
        """The DSN the backend was given (PgBouncer's when it goes through it)."""
        via = self.overrides.get("backend.db_via", "direct")
        if via == "pgbouncer" and self.pgbouncer is not None:
            return self.pgbouncer.dsn
        return self.postgres.dsn if self.postgres is not None else None

    def save(self, state_dir: Path | None = None) -> Path:
        """Write atomically (rename), so a reader never sees half a file."""
        directory = Path(state_dir or self.state_dir)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / STATE_FILE
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(self.model_dump_json(indent=2) + "\n")
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, state_dir: Path) -> StackState | None:
        """The saved stack, or None when there is none; StackError when the file is unreadable."""
        path = Path(state_dir) / STATE_FILE
        try:
            text = path.read_text()
        except FileNotFoundError:
            return None
        try:
            return cls.model_validate(json.loads(text))
        except (ValueError, ValidationError) as exc:
            raise StackError(
                "state", f"{path} is not a valid stack file ({exc}); remove it by hand"
            ) from exc

    @staticmethod
    def remove(state_dir: Path) -> None:
        (Path(state_dir) / STATE_FILE).unlink(missing_ok=True)
