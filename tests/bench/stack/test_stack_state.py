"""stack.json round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.errors import StackError
from bench.stack.state import PartState, PostgresState, StackState


def test_round_trip(tmp_path: Path) -> None:
    state = StackState(
        state_dir=str(tmp_path),
        overrides={"backend.db_via": "direct"},
        postgres=PostgresState(
            name="postgres",
            pid=10,
            state="running",
            ports={"postgres": 5432},
            dsn="postgresql://a@127.0.0.1:5432/b",
            admin_dsn="postgresql://p@127.0.0.1:5432/b",
            base_dir="/tmp/x",
            max_connections=20,
        ),
        backend=PartState(name="backend", pid=11, urls={"ws": "ws://127.0.0.1:1", "http": "h"}),
    )
    state.save()
    loaded = StackState.load(tmp_path)
    assert loaded == state
    assert loaded is not None
    assert [p.name for p in loaded.parts()] == ["postgres", "backend"]
    assert loaded.db_dsn == "postgresql://a@127.0.0.1:5432/b"
    assert loaded.backend is not None
    assert loaded.backend.url == "ws://127.0.0.1:1"
    StackState.remove(tmp_path)
    assert StackState.load(tmp_path) is None


def test_corrupt_file_is_a_stack_error(tmp_path: Path) -> None:
    (tmp_path / "stack.json").write_text("{not json")
    with pytest.raises(StackError, match="not a valid stack file"):
        StackState.load(tmp_path)
