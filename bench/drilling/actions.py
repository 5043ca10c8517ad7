"""What a drill does to a running stack: run-time changes through the mocks' admin APIs
(``PUT /admin/faults`` on the upstream, ``PUT /admin/config`` on the backend) and the crash
drill's kill and restart, through the ``Runtime`` protocol (bench/stack/runtime.py): on the local
runtime a SIGKILL of the backend's PID and a new process on the same ports, on the compose
runtime the container killed and restarted in place.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from typing import Any

from bench.errors import StackError
from bench.stack.runtime import Runtime
from bench.stack.state import StackState


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


def kill_backend(stack: Runtime) -> str:
    """SIGKILL the backend (no goodbye, as an OOM kill); returns what was killed."""
    return stack.kill("backend")


def restart_backend(stack: Runtime, *, timeout: float = 20.0) -> None:
    """Start the killed backend again where callers reach it, and wait until it is ready."""
    stack.restart("backend", timeout=timeout)
    print("callbench: backend restarted", file=sys.stderr)
