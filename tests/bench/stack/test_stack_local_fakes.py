"""The local runtime's machinery with stand-in mocks (fake_mock_cli.py) but real Postgres,
PgBouncer and Prometheus: all parts start and are healthy, Prometheus scrapes both mocks, `down`
stops every PID and removes the cluster; a part failing mid-way tears down what had started."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

import pytest

from bench.errors import StackError, UsageError
from bench.stack import health, overrides, services
from bench.stack.local import LocalStack
from bench.stack.pg_exporter import BINARY as PG_EXPORTER
from bench.stack.processes import has_binary, pid_alive, wait_until
from bench.stack.runtime import Runtime
from bench.stack.state import StackState

FAKE = Path(__file__).with_name("fake_mock_cli.py")

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(autouse=True)
def fake_mocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "cli_argv", lambda *args: [sys.executable, str(FAKE), *args])


def _targets_up(prometheus_url: str) -> bool:
    with urllib.request.urlopen(f"{prometheus_url}/api/v1/targets", timeout=2) as response:
        targets = json.load(response)["data"]["activeTargets"]
    exporter = ["postgres"] if has_binary(PG_EXPORTER) else []
    return sorted(t["labels"]["job"] for t in targets if t["health"] == "up") == [
        "backend",
        *exporter,
        "prometheus",
        "realtime",
    ]


def _assert_gone(state: StackState, state_dir: Path) -> None:
    for part in state.parts():
        assert part.pid is not None
        assert not pid_alive(part.pid), f"{part.name} (pid {part.pid}) still running"
    assert state.postgres is not None
    assert not Path(state.postgres.base_dir).exists()
    assert not (state_dir / "stack.json").exists()


@pytest.mark.skipif(
    not (has_binary("pgbouncer") and has_binary("prometheus")), reason="needs pgbouncer+prometheus"
)
def test_whole_stack_up_scraped_and_down(tmp_path: Path) -> None:
    overrides = {"backend.db_via": "pgbouncer", "realtime.faults": '{"stall": {"probability": 0}}'}
    with LocalStack(tmp_path, overrides) as stack:
        state = stack.state
        assert state is not None
        exporter = ["pg_exporter"] if has_binary(PG_EXPORTER) else []  # with Prometheus, if any
        assert [p.name for p in state.parts()] == [
            "postgres",
            "pgbouncer",
            "realtime",
            "backend",
            *exporter,
            "prometheus",
        ]
        assert [r.name for r in health.probe_all(state) if not r.healthy] == []
        # The backend was pointed at PgBouncer, without a statement cache, and at the upstream.
        backend_log = (tmp_path / "logs" / "backend.log").read_text()
        assert state.pgbouncer is not None
        assert state.realtime is not None
        assert state.pgbouncer.dsn in backend_log
        assert "db_statement_cache_size=0" in backend_log
        assert state.realtime.urls["ws"] in backend_log
        assert (tmp_path / "run" / "realtime-faults.json").exists()
        assert state.prometheus is not None
        prometheus_url = state.prometheus.urls["http"]
        wait_until(lambda: _targets_up(prometheus_url), timeout=30, what="scrapes", interval=0.5)
    _assert_gone(state, tmp_path)


def test_failing_backend_tears_down_what_started(
    tmp_path: Path, saved_states: list[StackState], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A knob only the fake backend knows (and refuses), declared valid for this test.
    monkeypatch.setattr(overrides, "_backend_checkers", lambda: {"fail": str})
    settings = {"pgbouncer.enabled": "off", "prometheus.enabled": "off", "backend.fail": "1"}
    with pytest.raises(StackError) as info:
        LocalStack(tmp_path, settings).up()
    assert info.value.part == "backend"
    assert "refusing to start" in str(info.value)  # the tail of its log
    last = saved_states[-1]
    assert last.realtime is not None  # started before the backend failed ...
    _assert_gone(last, tmp_path)  # ... and stopped, with the cluster


def test_second_up_is_refused(tmp_path: Path) -> None:
    overrides = {"pgbouncer.enabled": "off", "prometheus.enabled": "off"}
    with LocalStack(tmp_path, overrides) as stack:
        with pytest.raises(UsageError, match="run `callbench down` first"):
            LocalStack(tmp_path, overrides).up()
        assert stack.state is not None
        assert (tmp_path / "stack.json").exists()
        state = stack.state
    _assert_gone(state, tmp_path)


def test_a_relative_state_dir_from_another_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parts run elsewhere than the caller's directory (issue 16: the upstream was handed a
    relative faults file): every path they get is absolute."""
    monkeypatch.chdir(tmp_path)
    settings = {
        "pgbouncer.enabled": "off",
        "prometheus.enabled": "off",
        "realtime.faults": '{"stall": {"probability": 0}}',
    }
    with LocalStack(Path("runs/one/stack"), settings) as stack:
        state = stack.state
        assert state is not None
        assert state.realtime is not None
        assert state.realtime.log is not None
        assert Path(state.realtime.log).is_absolute()
        assert "faults" in Path(state.realtime.log).read_text()
    _assert_gone(state, tmp_path / "runs/one/stack")


def test_kill_and_restart_the_backend_on_its_ports(tmp_path: Path) -> None:
    """The crash drill's two actions through the Runtime protocol: SIGKILL, then a new process
    that callers reach at the old URL, recorded in stack.json (so teardown stops it)."""
    settings = {"pgbouncer.enabled": "off", "prometheus.enabled": "off"}
    stack: Runtime = LocalStack(tmp_path, settings)
    with stack:
        assert stack.state is not None
        before = stack.state.backend
        assert before is not None
        assert before.pid is not None
        assert stack.kill("backend") == f"pid {before.pid}"
        assert not pid_alive(before.pid)
        assert not services.http_ok(before.urls["admin"] + "/health/ready")
        stack.restart("backend", timeout=20.0)
        after = stack.state.backend
        assert after is not None
        assert after.pid is not None
        assert after.pid != before.pid
        assert after.ports == before.ports
        assert services.http_ok(before.urls["admin"] + "/health/ready")
        saved = StackState.load(tmp_path)
        assert saved is not None
        assert saved.backend is not None
        assert saved.backend.pid == after.pid
        with pytest.raises(StackError, match="restarts only the backend"):
            stack.restart("postgres")
        state = stack.state
    _assert_gone(state, tmp_path)
