"""Every Grafana panel's PromQL returns data from a real Prometheus during a drill.

The drill runs on the local runtime (real Postgres capped at 20 connections, the two mocks,
postgres_exporter, real Prometheus scraping every second): the backend's pool may open 50, the
fake upstream refuses some handshakes with 429 and stalls some responses, and 30 tool-calling
calls go through the backend at once with a minimal native-protocol client, twice: Prometheus
scrapes the first wave before the second starts, so the counters the first wave created
(outcomes, error kinds) show increases — rates, alerts — rather than appearing at their final
values. Then a generator run (the `calls` workload under the Runner) serves its /metrics and
names itself in Prometheus's generator targets file, as a run watching the stack does, while each
panel target's ``expr`` is asked of Prometheus (``/api/v1/query``) until it returns a series,
within a deadline. No panel is skipped (postgres_exporter's panels need its Debian package).
The dashboards' structure (datasource uid, unique ids, sizes) is checked without any server.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from bench.monitoring import FileSdTargets
from bench.stack.assets import assets_dir
from bench.stack.local import LocalStack
from bench.stack.pg_exporter import BINARY as PG_EXPORTER
from bench.stack.processes import has_binary
from bench.stack.state import StackState
from generator.metrics.exporter import ExportSettings
from generator.options import RunOptions
from generator.runner import Runner, RunOutcome
from generator.scenario import scenario_from_dict
from generator.workloads.call import CallConfig, CallWorkload

GRAFANA = assets_dir() / "grafana"  # the packaged provisioning and dashboards
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
DATASOURCE_UID = "callbench-prometheus"
SKIPPED: dict[str, str] = {}  # expr prefix -> why its panels cannot have data here (none now)
FAULTS = {"handshake_429": {"probability": 0.25, "retry_after_s": 0}, "stall": {"probability": 0.2}}
CALLS = 30
SILENCE_300MS = b"\x00\x00" * 7200


def _targets() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, expr) of every query target."""
    found = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                found.append((path.name, panel["title"], target["expr"]))
    return found


def _skip_reason(expr: str) -> str | None:
    for prefix, reason in SKIPPED.items():
        if re.search(rf"\b{re.escape(prefix)}", expr):
            return reason
    return None


def test_dashboards_are_well_formed() -> None:
    assert {p.name for p in DASHBOARDS} >= {"callbench-overview.json", "callbench-drill.json"}
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/callbench.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/etc/callbench/dashboards"
    source = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    assert source["datasources"][0]["uid"] == DATASOURCE_UID
    uids = set()
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        uids.add(board["uid"])
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), path.name
        for panel in board["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, (path.name, panel["title"])
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] == DATASOURCE_UID, panel["title"]
                assert panel["targets"], panel["title"]
    assert len(uids) == len(DASHBOARDS)
    titles = " ".join(title.lower() for _, title, _ in _targets())
    for needed in ("active calls", "success rate", "turn latency", "errors by kind", "429"):
        assert needed in titles
    for needed in ("stalls", "db pool", "max_connections", "rss", "event-loop lag"):
        assert needed in titles


async def _call(ws_url: str, deadline_s: float = 20.0) -> str:
    """One call: greeting, two caller turns, hang up. Returns how it ended (for the message)."""
    url = f"{ws_url}/ws/voice/{uuid.uuid4()}"
    async with aiohttp.ClientSession() as session, asyncio.timeout(deadline_s):
        try:
            ws = await session.ws_connect(url)
        except aiohttp.ClientError as exc:
            return f"connect: {exc}"
        async with ws:
            turns = 0
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                frame = json.loads(message.data)
                kind = frame.get("type")
                if kind in ("error", "hangup"):
                    return f"{kind}: {frame.get('code') or frame.get('reason')}"
                if kind == "response.done" and frame.get("status") == "completed":
                    if turns == 2:
                        await ws.send_json({"type": "hangup"})
                        return "completed"
                    turns += 1
                    await ws.send_bytes(SILENCE_300MS)
                    await ws.send_json({"type": "end_of_utterance"})
            return f"closed {ws.close_code}"


def _query(prometheus: str, expr: str) -> list[Any]:
    url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    result: list[Any] = body["data"]["result"]
    return result


async def _until_data(prometheus: str, expr: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not await asyncio.to_thread(_query, prometheus, expr):
        assert time.monotonic() < deadline, f"Prometheus never answered data for {expr}"
        await asyncio.sleep(0.5)


def _file_sd(path: str | None) -> Any:
    assert path is not None
    return json.loads(Path(path).read_text())


async def _generator_run(state: StackState, out_dir: Path) -> RunOutcome:
    """Calls for a few seconds, the run serving /metrics where Prometheus looks for it."""
    assert state.backend is not None
    assert state.generator_targets is not None
    load = {"executor": "constant-vus", "vus": 6, "duration": "6s"}
    scenario = scenario_from_dict(
        {"name": "dashboards", "workloads": {"calls": {"type": "calls", "load": load}}}
    )
    config = CallConfig(
        url=f"{state.backend.urls['ws']}/ws/voice",
        turns=2,
        utterance_ms=300,
        greeting_timeout_s=5.0,
        response_timeout_s=5.0,
    )
    export = ExportSettings(announce=FileSdTargets(Path(state.generator_targets)))
    options = RunOptions(out_dir, export=export, handle_sigint=False)
    runner = Runner(scenario, options, {"calls": CallWorkload(config)})
    return await runner.run()


@pytest.fixture(scope="module")
def drill_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackState]:
    for binary in ("prometheus", "initdb", "pg_ctl", PG_EXPORTER):
        if not has_binary(binary):
            pytest.skip(f"{binary} is not installed (scripts/system-deps.sh installs it)")
    overrides = {
        "postgres.max_connections": "20",
        "backend.db_pool_max": "50",
        "backend.upstream_timeout_s": "1",
        "realtime.greeting_ms": "200",
        "realtime.answer_ms": "300",
        "realtime.faults": json.dumps(FAULTS),
        "pgbouncer.enabled": "off",
        "prometheus.enabled": "on",
        "prometheus.scrape_interval": "1s",
    }
    stack = LocalStack(tmp_path_factory.mktemp("dashboards"), overrides, timeout=60)
    with stack:
        assert stack.state is not None
        yield stack.state


@pytest.mark.timeout(150)
async def test_every_panel_returns_data_during_a_drill(
    drill_stack: StackState, tmp_path: Path
) -> None:
    assert drill_stack.backend is not None
    assert drill_stack.prometheus is not None
    prometheus = drill_stack.prometheus.urls["http"]
    ws_url = drill_stack.backend.urls["ws"]
    await asyncio.gather(*(_call(ws_url) for _ in range(CALLS)))
    await _until_data(prometheus, f"sum(callbench_backend_calls_total) >= {CALLS}", 20)
    endings = await asyncio.gather(*(_call(ws_url) for _ in range(CALLS)))
    assert "completed" in endings, endings  # the drill hurts, but some calls get through
    refusals = 'sum(rate(callbench_backend_db_errors_total{kind="too_many_connections"}[1m])) > 0'
    await _until_data(prometheus, refusals, 20)
    generator = asyncio.create_task(_generator_run(drill_stack, tmp_path / "run"))

    pending = {
        (board, title, expr) for board, title, expr in _targets() if _skip_reason(expr) is None
    }
    assert len(pending) >= 20
    # Rates need two scrapes after the drill; the alert rules wait `for: 10s` before firing.
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        for target in sorted(pending):
            if await asyncio.to_thread(_query, prometheus, target[2]):
                pending.discard(target)
        if pending:
            await asyncio.sleep(1.0)
    run = await generator
    empty = "\n".join(f"{board} / {title}: {expr}" for board, title, expr in sorted(pending))
    assert not pending, f"panels without data after the drill (call endings {endings}):\n{empty}"
    assert run.summary.calls.total > 0, run.summary.calls
    assert _file_sd(drill_stack.generator_targets) == []  # the run withdrew when it ended


def test_no_panel_is_skipped() -> None:
    skipped = [(title, expr) for _, title, expr in _targets() if _skip_reason(expr) is not None]
    assert skipped == []
    exprs = " ".join(expr for _, _, expr in _targets())
    for needed in ("callbench_generator_", "pg_stat_activity_count", "pg_settings_max_connections"):
        assert needed in exprs
