"""Pool exhaustion averted through the stack: Postgres capped at 20, the backend's pool allowed 50,
but behind PgBouncer (transaction mode): concurrent calls with tool calls (database work) see no
SQLSTATE 53300. Drives the backend with a minimal native-protocol client (docs/protocol.md).
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect

from bench.stack.local import LocalStack
from bench.stack.processes import has_binary
from bench.stack.state import StackState

CALLS = 30
FRAME = bytes(960)  # 20 ms of PCM16 24 kHz silence

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not has_binary("pgbouncer"), reason="pgbouncer not installed"),
]


@dataclass
class CallResult:
    frames: list[str] = field(default_factory=list)
    errors: list[dict[str, object]] = field(default_factory=list)
    tool_calls: int = 0
    answered: bool = False


async def _until_done(ws: ClientConnection, result: CallResult, kind: str) -> None:
    """Read frames until the `response.done` of a response of ``kind``, or an error."""
    current = None
    async for message in ws:
        if isinstance(message, bytes):
            continue
        frame = json.loads(message)
        result.frames.append(frame["type"])
        if frame["type"] == "response.started":
            current = frame.get("kind")
        elif frame["type"] == "tool_call":
            result.tool_calls += 1
        elif frame["type"] == "error":
            result.errors.append(frame)
            return
        elif frame["type"] == "response.done" and current == kind:
            return


async def _call(ws_base: str) -> CallResult:
    result = CallResult()
    async with connect(f"{ws_base}/ws/voice/{uuid.uuid4().hex}", open_timeout=20) as ws:
        async with asyncio.timeout(60):
            await _until_done(ws, result, "greeting")
            for turn in range(2):  # 1st turn: check_availability, 2nd: book_appointment
                if result.errors:
                    break
                for _ in range(10):
                    await ws.send(FRAME)
                await ws.send(json.dumps({"type": "end_of_utterance"}))
                await _until_done(ws, result, "answer")
                result.answered = turn == 1 and not result.errors
            if not result.errors:
                await ws.send(json.dumps({"type": "hangup"}))
    return result


def _db_metrics(metrics_url: str) -> list[str]:
    with urllib.request.urlopen(metrics_url, timeout=5) as response:
        text = response.read().decode()
    return [line for line in text.splitlines() if "_db_" in line and not line.startswith("#")]


def _total(lines: list[str], name: str, label: str) -> float:
    pattern = re.compile(rf"^{name}\{{[^}}]*{label}[^}}]*\}}\s+(\S+)$")
    return sum(float(m.group(1)) for line in lines if (m := pattern.match(line)))


@pytest.fixture
def stack(tmp_path: Path, mocks_available: None) -> Iterator[StackState]:
    overrides = {
        "postgres.max_connections": "20",
        "backend.db_pool_max": "50",
        "backend.db_via": "pgbouncer",
        "backend.max_sessions": "0",
        "realtime.greeting_ms": "100",
        "realtime.answer_ms": "100",
        "prometheus.enabled": "off",
    }
    with LocalStack(tmp_path, overrides) as local:
        assert local.state is not None
        yield local.state


async def test_concurrent_tool_calls_through_pgbouncer_never_hit_the_cap(
    stack: StackState,
) -> None:
    assert stack.backend is not None
    results = await asyncio.gather(*(_call(stack.backend.urls["ws"]) for _ in range(CALLS)))
    errors = [e for r in results for e in r.errors]
    db_metrics = _db_metrics(stack.backend.urls["metrics"])
    refused = _total(db_metrics, "callbench_backend_db_errors_total", 'kind="too_many_connections"')
    assert refused == 0, db_metrics
    assert not any("too_many_connections" in str(e) or "53300" in str(e) for e in errors), errors
    assert errors == [], (errors, db_metrics)
    assert all(r.answered for r in results)
    assert sum(r.tool_calls for r in results) >= CALLS  # the database was really used
