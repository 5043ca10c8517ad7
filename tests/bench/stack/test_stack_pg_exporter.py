"""postgres_exporter in the local runtime: it reads the throwaway cluster and exports the series
the dashboards query; the stack starts it beside Prometheus, names it in Prometheus's targets
file, records it in stack.json, and `down` leaves no exporter process behind."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from bench.stack.local import LocalStack
from bench.stack.pg_exporter import BINARY, exporter_dsn, start_pg_exporter
from bench.stack.postgres import start_postgres, stop_postgres
from bench.stack.processes import has_binary, pid_alive, stop_pid
from bench.stack.state import StackState

needs_exporter = pytest.mark.skipif(
    not all(has_binary(b) for b in (BINARY, "initdb", "pg_ctl")),
    reason=f"{BINARY} or Postgres not installed (scripts/system-deps.sh installs them)",
)


def _metrics(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        text: str = response.read().decode()
    return text


def test_dsn_turns_tls_off() -> None:
    assert exporter_dsn("postgresql://postgres@127.0.0.1:5/x") == (
        "postgresql://postgres@127.0.0.1:5/x?sslmode=disable"
    )
    assert exporter_dsn("postgresql://h/x?a=b").endswith("?a=b&sslmode=disable")
    assert exporter_dsn("postgresql://h/x?sslmode=require").endswith("sslmode=require")


@needs_exporter
@pytest.mark.timeout(60)
def test_exports_what_the_dashboards_query(tmp_path: Path) -> None:
    pg = start_postgres(max_connections=17)
    try:
        info = start_pg_exporter(pg.admin_dsn, tmp_path / "pg_exporter.log", timeout=30)
        try:
            body = _metrics(info.url)
        finally:
            assert stop_pid(info.pid, timeout=5)
        assert not pid_alive(info.pid)
    finally:
        stop_postgres(pg.base_dir)
    lines = body.splitlines()
    assert any(
        line.startswith("pg_settings_max_connections") and line.endswith(" 17") for line in lines
    )
    assert any(line.startswith('pg_stat_activity_count{datname="callbench"') for line in lines)


@needs_exporter
@pytest.mark.timeout(90)
def test_the_stack_starts_and_stops_it(tmp_path: Path) -> None:
    if not has_binary("prometheus"):
        pytest.skip("prometheus is not installed")
    overrides = {"prometheus.enabled": "on", "pgbouncer.enabled": "off"}
    with LocalStack(tmp_path / "state", overrides, timeout=60) as stack:
        state = stack.state
        assert state is not None
        assert state.pg_exporter is not None
        assert state.pg_exporter.pid is not None
        pid = state.pg_exporter.pid
        saved = StackState.load(tmp_path / "state")
        assert saved is not None
        assert saved.pg_exporter == state.pg_exporter
        assert [p.name for p in saved.parts()][-2:] == ["pg_exporter", "prometheus"]
        assert state.generator_targets is not None
        targets = Path(state.generator_targets).with_name("postgres.json")
        assert json.loads(targets.read_text())[0]["targets"] == [
            f"127.0.0.1:{state.pg_exporter.ports['http']}"
        ]
        assert "pg_up 1" in _metrics(state.pg_exporter.urls["metrics"])
    assert not pid_alive(pid)
    assert StackState.load(tmp_path / "state") is None
