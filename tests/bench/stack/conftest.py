"""Fixtures for the local-stack tests: whether the mocks' CLIs exist yet (the end-to-end tests
start them as real processes), and a recorder of every stack.json `up` writes."""

from __future__ import annotations

import subprocess
import sys
from functools import cache

import pytest

from bench.stack.state import StackState


@cache
def mock_cli_works(which: str) -> bool:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.cli", "mock", which, "-h"],
        capture_output=True,
        check=False,
        timeout=60,
    )
    return proc.returncode == 0


@pytest.fixture
def mocks_available() -> None:
    missing = [w for w in ("realtime", "backend") if not mock_cli_works(w)]
    if missing:
        pytest.skip(f"`callbench mock {'/'.join(missing)}` not available yet")


@pytest.fixture
def saved_states(monkeypatch: pytest.MonkeyPatch) -> list[StackState]:
    """Every StackState saved during the test, so a test can check what a failed `up` started."""
    saved: list[StackState] = []
    real_save = StackState.save

    def save(self: StackState, state_dir: object = None) -> object:
        saved.append(self)
        return real_save(self, state_dir)  # type: ignore[arg-type]

    monkeypatch.setattr(StackState, "save", save)
    return saved
