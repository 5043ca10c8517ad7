"""What a drill does to a running stack: run-time changes through the mocks' admin APIs
(``PUT /admin/faults`` on the upstream, ``PUT /admin/config`` on the backend) and the crash
drill's kill and restart. On the local runtime the kill is a SIGKILL of the backend's PID from
stack.json and the restart a new process on the same ports (so callers dialling the old URL
reach it; stack.json is updated so teardown stops it). On the compose runtime both go through
the Docker SDK: the container is killed with SIGKILL and restarted in place.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from bench.errors import StackError
from bench.stack import overrides as stack_overrides
from bench.stack.compose import ComposeStack
from bench.stack.local import LocalStack
from bench.stack.processes import LOOPBACK, log_tail, pid_create_time, reap, spawn, wait_until
from bench.stack.services import PROJECT_ROOT, cli_argv, http_ok
from bench.stack.state import PartState, StackState


def put_json(url: str, body: dict[str, Any], *, timeout: float = 5.0) -> dict[str, Any]:
    """PUT ``body`` as JSON; StackError with the server's errors when it is refused."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer: Any = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        raise StackError("drill", f"PUT {url} answered {exc.code}: {detail}") from None
    except OSError as exc:
        raise StackError("drill", f"PUT {url} failed: {exc}") from None
    return answer if isinstance(answer, dict) else {}


def set_realtime_faults(state: StackState, faults: dict[str, Any]) -> None:
    if state.realtime is None:
        raise StackError("realtime", "not running")
    put_json(state.realtime.urls["admin"] + "/admin/faults", faults)


def set_backend_config(state: StackState, changes: dict[str, Any]) -> None:
    if state.backend is None:
        raise StackError("backend", "not running")
    admin = state.backend.urls.get("admin")
    if admin is None:  # the users' compose file: the admin port is the container's own
        raise StackError(
            "backend",
            "its admin API is not reachable from here (on the compose runtime it is only on the "
            "host network: use docker-compose.ci.yml's layout, or --runtime local)",
        )
    put_json(admin + "/admin/config", changes)


DrillStack = LocalStack | ComposeStack


def kill_backend(stack: DrillStack) -> str:
    """SIGKILL the backend (no goodbye, as an OOM kill); returns what was killed."""
    if isinstance(stack, ComposeStack):
        container = stack.container("backend")
        stack.kill("backend")
        return f"container {container.name}"
    return f"pid {kill_local_backend(stack)}"


def restart_backend(stack: DrillStack, *, timeout: float = 20.0) -> None:
    """Start the killed backend again, on the same ports, and wait until it is ready."""
    if isinstance(stack, ComposeStack):
        stack.restart("backend", timeout=timeout)
        print("callbench: backend container restarted", file=sys.stderr)
    else:
        restart_local_backend(stack, timeout=timeout)


def kill_local_backend(stack: LocalStack) -> int:
    """SIGKILL the local backend process; returns the PID it had."""
    state = stack.state
    if state is None or state.backend is None or state.backend.pid is None:
        raise StackError("backend", "not running")
    pid = state.backend.pid
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: _gone(pid), timeout=5.0, what=f"backend pid {pid} to die")
    return pid


def _gone(pid: int) -> bool:
    reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1].startswith("Z")
    except OSError:
        return True


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def restart_local_backend(stack: LocalStack, *, timeout: float = 20.0) -> int:
    """Start the backend again with the settings and ports it had; returns the new PID."""
    state = stack.state
    if state is None or state.backend is None or state.realtime is None or state.db_dsn is None:
        raise StackError("backend", "no stack to restart the backend in")
    old = state.backend
    settings = stack_overrides.validate(state.overrides)
    port, admin_port = old.ports["http"], old.ports["admin"]
    argv = cli_argv("mock", "backend", "--host", LOOPBACK, "--port", str(port))
    argv += ["--admin-port", str(admin_port), "--upstream-url", state.realtime.urls["ws"]]
    argv += ["--db-dsn", state.db_dsn]
    for key, value in settings.backend.items():
        argv += ["--set", f"{key}={value}"]
    log_path = Path(old.log or stack.logs_dir / "backend.log")
    proc = spawn(argv, log_path, env=_child_env(), cwd=PROJECT_ROOT)
    ready_urls = [f"{old.urls['admin']}/health/ready", f"{old.urls['http']}/health/ready"]

    def ready() -> bool:
        if proc.poll() is not None:
            raise StackError("backend", f"exited with status {proc.returncode}", log_tail(log_path))
        return any(http_ok(url) for url in ready_urls)

    # The new process is recorded before it is ready, so a failed restart is still torn down.
    _record(stack, state, old.model_copy(update={"pid": proc.pid, "state": "starting"}))
    wait_until(ready, timeout=timeout, what="restarted backend")
    part = old.model_copy(
        update={"pid": proc.pid, "pid_create_time": pid_create_time(proc.pid), "state": "running"}
    )
    _record(stack, state, part)
    print(f"callbench: backend restarted (pid {proc.pid})", file=sys.stderr)
    return proc.pid


def _record(stack: LocalStack, state: StackState, backend: PartState) -> None:
    new_state = state.model_copy(update={"backend": backend})
    new_state.save(stack.state_dir)
    stack.state = new_state
