"""postgres_exporter for the local runtime (Debian ``prometheus-postgres-exporter``): it reads the
throwaway cluster as the superuser (pg_stat_activity, pg_settings) and serves /metrics on
loopback for the bench's Prometheus (job ``postgres``). The stack starts it only when Prometheus
runs and the binary is present: the dashboards' Postgres panels read it, nothing else needs it."""

from __future__ import annotations

import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.stack.processes import (
    LOOPBACK,
    await_ready,
    find_binary,
    free_port,
    spawn,
)

BINARY = "prometheus-postgres-exporter"


@dataclass(frozen=True)
class PgExporterInfo:
    port: int
    pid: int
    url: str  # the /metrics URL
    log_path: str


def exporter_dsn(admin_dsn: str) -> str:
    """The admin DSN with ``sslmode=disable`` (the exporter's driver insists on TLS otherwise)."""
    if "sslmode=" in admin_dsn:
        return admin_dsn
    return admin_dsn + ("&" if "?" in admin_dsn else "?") + "sslmode=disable"


def _serving(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2.0) as response:
            body: bytes = response.read()
    except OSError:
        return False
    # `pg_up 1` once it has reached the database; before that it answers `pg_up 0`.
    return b"\npg_up 1" in body


def start_pg_exporter(admin_dsn: str, log_path: Path, *, timeout: float = 15.0) -> PgExporterInfo:
    """Start the exporter against ``admin_dsn``; StackError (with its log's tail) when it does not
    report the database up in time."""
    binary = find_binary(BINARY)
    port = free_port()
    env = {**os.environ, "DATA_SOURCE_NAME": exporter_dsn(admin_dsn)}
    argv = [binary, f"--web.listen-address={LOOPBACK}:{port}", "--log.level=warn"]
    proc = spawn(argv, log_path, env=env)
    url = f"http://{LOOPBACK}:{port}/metrics"

    await_ready(proc, "pg_exporter", log_path, lambda: _serving(url), timeout=timeout, interval=0.2)
    return PgExporterInfo(port=port, pid=proc.pid, url=url, log_path=str(log_path))
