"""A part whose free port another process took first is started again on other ports; a part
that fails for any other reason, or was told its ports, is not."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.errors import StackError
from bench.stack import services
from bench.stack.processes import LOOPBACK, free_port, pid_alive, stop_pid


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port some other process holds while the test runs."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@pytest.mark.timeout(60)
def test_a_port_taken_before_the_child_binds_it_is_replaced(
    tmp_path: Path, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    handed_out: list[int] = []

    def racy_free_port() -> int:
        # The first port handed out is already taken, as when another stack grabbed it between
        # our check and the child's bind.
        port = taken_port if not handed_out else free_port()
        handed_out.append(port)
        return port

    monkeypatch.setattr(services, "free_port", racy_free_port)
    log = tmp_path / "realtime.log"
    info = services.start_realtime(tmp_path, log, timeout=30)
    try:
        assert pid_alive(info.pid)
        assert info.ports["ws"] != taken_port
        assert handed_out[0] == taken_port
        assert len(handed_out) == 4  # two tries, two ports each
        assert services.LOST_PORT in log.read_text()  # the first child did lose the race
    finally:
        assert stop_pid(info.pid, timeout=10)


def test_other_failures_and_given_ports_are_not_retried() -> None:
    calls: list[tuple[int, int]] = []

    def crashes(port: int, admin_port: int) -> int:
        calls.append((port, admin_port))
        raise StackError("backend", "exited with status 2", "mock backend: error: bad --set")

    with pytest.raises(StackError, match="bad --set"):
        services._on_free_ports(crashes)
    assert len(calls) == 1

    def loses_port(port: int, admin_port: int) -> int:
        calls.append((port, admin_port))
        raise StackError("backend", "exited with status 3", services.LOST_PORT)

    calls.clear()
    with pytest.raises(StackError):
        services._on_free_ports(loses_port, (1111, 2222))  # a restart keeps its ports
    assert calls == [(1111, 2222)]

    calls.clear()
    with pytest.raises(StackError):
        services._on_free_ports(loses_port)
    assert len(calls) == services.PORT_ATTEMPTS
