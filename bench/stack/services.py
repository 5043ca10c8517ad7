"""The two mocks as processes of the local stack: ``callbench mock realtime`` and ``callbench mock
backend``, run by the current interpreter (``python -m bench.cli``, so any venv works), each in its
own session with its output in a log, ready when its health endpoint answers 200. Every path
they are handed is absolute: they run in another directory than the caller's."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

from bench.errors import StackError
from bench.stack.processes import LOOPBACK, free_port, log_tail, spawn, stop_pid, wait_until

# The folder holding the imported bench package: the checkout, or site-packages when installed.
PACKAGES_ROOT = Path(str(resources.files("bench"))).absolute().parent
REALTIME_PATH = "/v1/realtime"
# Ports to listen on again (a restart, so callers dialling the old URLs reach the new process).
Ports = tuple[int, int]
OnSpawn = Callable[[int], None]


def _noop(_: int) -> None:
    pass


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    pid: int
    urls: dict[str, str]
    ports: dict[str, int]
    log_path: str


def cli_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench.cli", *args]


def child_env() -> dict[str, str]:
    """The mocks' environment: they import the same packages as this process, even a checkout
    that is not installed in the venv."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGES_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status) == 200
    except (OSError, urllib.error.HTTPError):
        return False


def _start(
    name: str,
    argv: list[str],
    log_path: Path,
    ready_urls: Sequence[str],
    timeout: float,
    on_spawn: OnSpawn = _noop,
) -> int:
    """Spawn and poll until any of ``ready_urls`` answers 200; on failure stop it and raise.
    ``on_spawn(pid)`` runs before the wait (a caller records the PID, so that an interrupted wait
    still leaves it to teardown)."""
    proc = spawn(argv, log_path, env=child_env(), cwd=PACKAGES_ROOT)
    on_spawn(proc.pid)

    def ready() -> bool:
        if proc.poll() is not None:
            raise StackError(name, f"exited with status {proc.returncode}", log_tail(log_path))
        return any(http_ok(url) for url in ready_urls)

    try:
        wait_until(ready, timeout=timeout, what=name)
    except StackError as exc:
        stop_pid(proc.pid, timeout=3.0)
        raise StackError(name, exc.reason, exc.log_tail or log_tail(log_path)) from None
    return proc.pid


# A free port is closed again before the child binds it, so another process on the machine may
# take it first (seen with two test workers each starting stacks): the child then exits at once
# with EADDRINUSE, and the part is started again on other ports, a bounded number of times.
PORT_ATTEMPTS: Final = 3
LOST_PORT: Final = "address already in use"


def _on_free_ports(
    attempt: Callable[[int, int], int], ports: Ports | None = None
) -> tuple[int, Ports]:
    """``attempt(port, admin_port)``'s PID and the ports it bound: fresh free ports, tried again
    when another process took one first; given ``ports`` are tried once (a restart keeps them)."""
    attempts = 1 if ports is not None else PORT_ATTEMPTS
    for n in range(1, attempts + 1):
        chosen = ports or (free_port(), free_port())
        try:
            return attempt(*chosen), chosen
        except StackError as exc:
            if n == attempts or LOST_PORT not in exc.log_tail:
                raise
    raise AssertionError("attempts >= 1: the loop returns or raises")


def start_realtime(
    run_dir: Path,
    log_path: Path,
    *,
    seed: int = 0,
    greeting_ms: int | None = None,
    answer_ms: int | None = None,
    faults: Mapping[str, Any] | None = None,
    timeout: float = 30.0,
) -> ServiceInfo:
    """The fake Realtime upstream; ready when ``GET {admin}/health`` answers 200."""
    extra = ["--seed", str(seed)]
    if greeting_ms is not None:
        extra += ["--greeting-ms", str(greeting_ms)]
    if answer_ms is not None:
        extra += ["--answer-ms", str(answer_ms)]
    if faults:
        faults_file = run_dir.absolute() / "realtime-faults.json"
        faults_file.parent.mkdir(parents=True, exist_ok=True)
        faults_file.write_text(json.dumps(dict(faults), indent=2))
        extra += ["--faults", str(faults_file)]

    def attempt(port: int, admin_port: int) -> int:
        argv = cli_argv("mock", "realtime", "--host", LOOPBACK, "--port", str(port))
        argv += ["--admin-port", str(admin_port), *extra]
        return _start(
            "realtime", argv, log_path, [f"http://{LOOPBACK}:{admin_port}/health"], timeout
        )

    pid, (port, admin_port) = _on_free_ports(attempt)
    admin = f"http://{LOOPBACK}:{admin_port}"
    return ServiceInfo(
        name="realtime",
        pid=pid,
        urls={
            "ws": f"ws://{LOOPBACK}:{port}{REALTIME_PATH}",
            "admin": admin,
            "metrics": f"{admin}/metrics",
        },
        ports={"ws": port, "admin": admin_port},
        log_path=str(log_path),
    )


def start_backend(
    log_path: Path,
    *,
    upstream_url: str,
    db_dsn: str,
    settings: Mapping[str, str],
    timeout: float = 30.0,
    ports: Ports | None = None,
    on_spawn: OnSpawn = _noop,
) -> ServiceInfo:
    """The mock voice backend; ready when ``GET /health/ready`` answers 200. ``ports`` (public,
    admin) are free ones unless given."""
    extra = ["--upstream-url", upstream_url, "--db-dsn", db_dsn]
    for key, value in settings.items():
        extra += ["--set", f"{key}={value}"]

    def attempt(port: int, admin_port: int) -> int:
        argv = cli_argv("mock", "backend", "--host", LOOPBACK, "--port", str(port))
        argv += ["--admin-port", str(admin_port), *extra]
        # The readiness probe may live on either listener; accept whichever answers.
        ready = [f"http://{LOOPBACK}:{p}/health/ready" for p in (admin_port, port)]
        return _start("backend", argv, log_path, ready, timeout, on_spawn)

    pid, (port, admin_port) = _on_free_ports(attempt, ports)
    http, admin = f"http://{LOOPBACK}:{port}", f"http://{LOOPBACK}:{admin_port}"
    return ServiceInfo(
        name="backend",
        pid=pid,
        urls={
            "http": http,
            "ws": f"ws://{LOOPBACK}:{port}",
            "admin": admin,
            "metrics": f"{admin}/metrics",
        },
        ports={"http": port, "admin": admin_port},
        log_path=str(log_path),
    )
