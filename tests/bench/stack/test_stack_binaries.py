"""Binary lookup: when a server is missing, the error names the Debian package to install, and
`up` fails before starting anything."""

from __future__ import annotations

import glob
import shutil
from pathlib import Path

import pytest

from bench.errors import StackError
from bench.stack import processes
from bench.stack.local import LocalStack


def _hide(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Make ``name`` (and pg_config, which would find it in its bindir) invisible."""
    real_which, real_glob = shutil.which, glob.glob

    def which(cmd: str, path: str | None = None) -> str | None:
        return None if Path(cmd).name in (name, "pg_config") else real_which(cmd, path=path)

    def fake_glob(pattern: str) -> list[str]:
        return [] if pattern.endswith(f"/{name}") else real_glob(pattern)

    monkeypatch.setattr(shutil, "which", which)
    monkeypatch.setattr(glob, "glob", fake_glob)


@pytest.mark.parametrize(
    ("binary", "package"),
    [("pgbouncer", "pgbouncer"), ("initdb", "postgresql"), ("promtool", "prometheus")],
)
def test_missing_binary_names_the_package(
    monkeypatch: pytest.MonkeyPatch, binary: str, package: str
) -> None:
    _hide(monkeypatch, binary)
    with pytest.raises(StackError) as info:
        processes.find_binary(binary)
    assert f"apt-get install -y {package}" in str(info.value)
    assert info.value.part == binary


def test_found_binary_is_a_file() -> None:
    assert Path(processes.find_binary("pg_ctl")).is_file()


def test_up_needing_a_missing_binary_starts_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _hide(monkeypatch, "pgbouncer")
    stack = LocalStack(tmp_path, {"backend.db_via": "pgbouncer"})
    with pytest.raises(StackError, match="apt-get install -y pgbouncer"):
        stack.up()
    assert not (tmp_path / "stack.json").exists()
