"""The two mocks as processes of the local stack: ``callbench mock realtime`` and ``callbench mock
backend``, run by the current interpreter (``python -m bench.cli``, so any venv works), each in its
own session with its output in a log, ready when its health endpoint answers 200."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import StackError
from bench.stack.processes import LOOPBACK, free_port, log_tail, spawn, stop_pid, wait_until

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REALTIME_PATH = "/v1/realtime"


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    pid: int
    urls: dict[str, str]
    ports: dict[str, int]
    log_path: str


def cli_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench.cli", *args]


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    # The mocks import this checkout's packages even when it is not installed in the venv.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
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
) -> int:
    """Spawn and poll until any of ``ready_urls`` answers 200; on failure stop it and raise."""
    proc = spawn(argv, log_path, env=_child_env(), cwd=PROJECT_ROOT)

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
    port, admin_port = free_port(), free_port()
    argv = cli_argv("mock", "realtime", "--host", LOOPBACK, "--port", str(port))
    argv += ["--admin-port", str(admin_port), "--seed", str(seed)]
    if greeting_ms is not None:
        argv += ["--greeting-ms", str(greeting_ms)]
    if answer_ms is not None:
        argv += ["--answer-ms", str(answer_ms)]
    if faults:
        faults_file = run_dir / "realtime-faults.json"
        faults_file.parent.mkdir(parents=True, exist_ok=True)
        faults_file.write_text(json.dumps(dict(faults), indent=2))
        argv += ["--faults", str(faults_file)]
    admin = f"http://{LOOPBACK}:{admin_port}"
    pid = _start("realtime", argv, log_path, [f"{admin}/health"], timeout)
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
) -> ServiceInfo:
    """The mock voice backend; ready when ``GET /health/ready`` answers 200."""
    port, admin_port = free_port(), free_port()
    argv = cli_argv("mock", "backend", "--host", LOOPBACK, "--port", str(port))
    argv += ["--admin-port", str(admin_port), "--upstream-url", upstream_url, "--db-dsn", db_dsn]
    for key, value in settings.items():
        argv += ["--set", f"{key}={value}"]
    http, admin = f"http://{LOOPBACK}:{port}", f"http://{LOOPBACK}:{admin_port}"
    # The readiness probe may live on either listener; accept whichever answers.
    pid = _start(
        "backend", argv, log_path, [f"{admin}/health/ready", f"{http}/health/ready"], timeout
    )
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
