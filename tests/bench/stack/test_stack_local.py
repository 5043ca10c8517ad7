"""The local runtime end to end, with real processes: `up` then `down` leaves nothing behind,
the CLI's up/status/down, a second `up` refused, a failed start that cleans up and names the part.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import StackError
from bench.stack import health
from bench.stack.local import LocalStack
from bench.stack.processes import pid_alive
from bench.stack.state import StackState

FAST = {"realtime.greeting_ms": "100", "realtime.answer_ms": "100"}


def _pids(state: StackState) -> list[int]:
    return [part.pid for part in state.parts() if part.pid is not None]


def _assert_gone(states: list[StackState], state_dir: Path) -> None:
    for state in states:
        for pid in _pids(state):
            assert not pid_alive(pid), f"pid {pid} still running"
        if state.postgres is not None:
            assert not Path(state.postgres.base_dir).exists()
    assert not (state_dir / "stack.json").exists()


def test_failed_start_cleans_up_and_names_the_part(
    tmp_path: Path, saved_states: list[StackState]
) -> None:
    # Valid JSON (so `up` accepts it) that the fake upstream rejects when it starts.
    bad_faults = json.dumps({"no_such_fault": {"probability": 2}})
    stack = LocalStack(tmp_path, {"realtime.faults": bad_faults}, timeout=30)
    with pytest.raises(StackError) as info:
        stack.up()
    assert info.value.part == "realtime"
    assert "realtime" in str(info.value)
    assert saved_states[-1].postgres is not None  # the cluster had started: it must be gone now
    _assert_gone(saved_states, tmp_path)
    assert (tmp_path / "logs" / "realtime.log").exists()


def test_cli_failed_start_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad_faults = json.dumps({"no_such_fault": {"probability": 2}})
    code = main(["up", "--state-dir", str(tmp_path), "--set", f"realtime.faults={bad_faults}"])
    assert code == 3
    assert "realtime:" in capsys.readouterr().err
    assert not (tmp_path / "stack.json").exists()


def test_cli_bad_set_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["up", "--state-dir", str(tmp_path), "--set", "postgres.nope=1", "--set", "x"])
    assert code == 2
    err = capsys.readouterr().err
    assert "postgres.nope" in err
    assert "max_connections" in err
    assert "`x` is not KEY=VALUE" in err


def test_cli_compose_without_engine_exits_3_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # An engine socket that cannot exist: the check must fail fast, in one line, with no state.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    assert main(["up", "--runtime", "compose", "--state-dir", str(tmp_path / "s")]) == 3
    err = capsys.readouterr().err
    assert "no Docker engine answers" in err
    assert "Traceback" not in err
    assert not (tmp_path / "s" / "stack.json").exists()


def test_down_without_stack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["down", "--state-dir", str(tmp_path)]) == 0
    assert "no stack" in capsys.readouterr().out
    assert main(["status", "--state-dir", str(tmp_path)]) == 3


@pytest.mark.timeout(90)
@pytest.mark.usefixtures("mocks_available")
def test_up_then_down_leaves_nothing(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path, FAST)
    state = stack.up()
    try:
        on_disk = StackState.load(tmp_path)
        assert on_disk == state
        assert state.postgres is not None
        assert state.postgres.max_connections == 20
        assert state.backend is not None
        assert state.realtime is not None
        assert state.backend.url is not None
        assert state.realtime.urls["ws"].endswith("/v1/realtime")
        results = health.probe_all(state)
        assert [r.name for r in results if not r.healthy] == []
    finally:
        stack.down()
    _assert_gone([state], tmp_path)


@pytest.mark.timeout(90)
@pytest.mark.usefixtures("mocks_available")
def test_cli_up_status_down(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state_dir = ["--state-dir", str(tmp_path)]
    up = ["up", *state_dir, "--set", "realtime.seed=7", "--set", "realtime.answer_ms=100"]
    assert main(up) == 0
    try:
        out = capsys.readouterr().out
        assert "backend" in out
        assert "ws://127.0.0.1:" in out
        assert main(["status", *state_dir, "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["healthy"] is True
        assert {p["name"] for p in report["parts"]} >= {"postgres", "realtime", "backend"}
        # A second `up` while this one runs is refused and starts nothing.
        assert main(["up", *state_dir]) == 2
        assert "callbench down" in capsys.readouterr().err
        state = StackState.load(tmp_path)
        assert state is not None
    finally:
        assert main(["down", *state_dir]) == 0
    _assert_gone([state], tmp_path)
    assert main(["status", *state_dir]) == 3
