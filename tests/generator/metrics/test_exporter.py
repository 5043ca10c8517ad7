"""The generator's live /metrics: a short real run (calls to the fake Realtime upstream) scraped
while it goes; the histograms' counts equal the store's; the file_sd target is written while it
serves and emptied after; the command-line flags decide when runs serve."""

from __future__ import annotations

import argparse
import asyncio
import json
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.commands.monitor_flags import add_monitor_arguments, export_settings_from_args
from bench.errors import UsageError
from bench.monitoring import FileSdTargets
from bench.stack.state import PartState, StackState
from generator.metrics.exporter import ExportSettings, GeneratorMetrics
from generator.metrics.store import MetricsStore
from generator.options import RunOptions
from generator.runner import Runner
from generator.scenario import scenario_from_dict
from generator.workloads.call import CallConfig, CallWorkload
from mocks.realtime.server import RealtimeServer

HISTOGRAMS = {
    "turn_latency": "callbench_generator_turn_latency_seconds",
    "connect_time": "callbench_generator_connect_time_seconds",
    "greeting_latency": "callbench_generator_greeting_latency_seconds",
    "send_lag": "callbench_generator_send_lag_seconds",
}


@pytest.fixture
async def upstream() -> AsyncIterator[Any]:
    async with RealtimeServer(seed=1, greeting_ms=50, answer_ms=100) as server:
        yield server


def _families(body: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(body)}


def _value(family: Any, suffix: str, **labels: str) -> float:
    for sample in family.samples:
        if sample.name == family.name + suffix and all(
            sample.labels.get(k) == v for k, v in labels.items()
        ):
            return float(sample.value)
    raise AssertionError(f"no {family.name}{suffix} {labels}")


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as response:
        text: str = response.read().decode()
    return text


def _advertised(targets: Path) -> str | None:
    groups = json.loads(targets.read_text()) if targets.is_file() else []
    return str(groups[0]["targets"][0]) if groups else None


async def _scrape_while_running(targets: Path, bodies: list[str], done: asyncio.Event) -> None:
    """Finds the run through its targets file, as Prometheus does, and scrapes it until the end."""
    address = None
    while address is None and not done.is_set():
        address = _advertised(targets)
        await asyncio.sleep(0.02)
    while address is not None and not done.is_set():
        try:
            bodies.append(await asyncio.to_thread(_scrape, f"http://{address}/metrics"))
        except OSError:
            return  # stopped serving
        await asyncio.sleep(0.1)


@pytest.mark.timeout(60)
async def test_a_run_serves_its_call_metrics(upstream: Any, tmp_path: Path) -> None:
    targets = tmp_path / "prometheus" / "targets" / "generator.json"
    scenario = scenario_from_dict(
        {
            "name": "export",
            "workloads": {
                "calls": {
                    "type": "calls",
                    "load": {"executor": "shared-iterations", "vus": 2, "iterations": 4},
                }
            },
        }
    )
    workload = CallWorkload(
        CallConfig(url=upstream.url, protocol="realtime", turns=2, utterance_ms=200)
    )
    export = ExportSettings(port=0, announce=FileSdTargets(targets), final_scrape_wait_s=2.0)
    options = RunOptions(tmp_path / "run", export=export, handle_sigint=False)
    runner = Runner(scenario, options, {"calls": workload})
    bodies: list[str] = []
    done = asyncio.Event()
    scraper = asyncio.create_task(_scrape_while_running(targets, bodies, done))
    outcome = await runner.run()
    done.set()
    await scraper
    assert json.loads(targets.read_text()) == []  # withdrawn
    assert runner.exporter is not None
    assert runner.exporter.scrapes == len(bodies) >= 2
    store = MetricsStore.from_snapshots(outcome.out_dir)
    families = _families(bodies[-1])  # taken after the load ended (the exporter waits for it)
    for name, metric in HISTOGRAMS.items():
        count = store.trend(name).count
        assert count > 0, name
        assert _value(families[metric], "_count") == count, name
        assert _value(families[metric], "_bucket", le="+Inf") == count, name
        assert _value(families[metric], "_sum") == pytest.approx(
            store.trend(name).avg * count / 1000.0, rel=0.01
        )
    calls = families["callbench_generator_calls"]
    assert _value(calls, "_total", outcome="succeeded") == store.counter(
        "calls_total", {"outcome": "succeeded"}
    )
    assert _value(calls, "_total", outcome="failed") == 0  # the series exists from the start
    # The gauge mirrors the store's last sample of it, and never shows more VUs than the load has.
    last_vus, _ = store.gauge("vus", {"workload": "calls"})
    assert _value(families["callbench_generator_vus"], "", workload="calls") == last_vus
    seen = [
        _value(family, "", workload="calls")
        for family in (_families(body).get("callbench_generator_vus") for body in bodies)
        if family is not None and family.samples
    ]
    assert seen
    assert all(0 <= vus <= 2 for vus in seen), seen
    assert "callbench_generator_errors" in families


def test_metrics_from_store_observations() -> None:
    metrics = GeneratorMetrics()
    store = MetricsStore()
    store.listen(metrics.observe)
    store.add_trend("turn_latency", 400.0, {"workload": "a"})
    store.add_trend("turn_latency", 12_000.0, {"workload": "b"})
    store.add_trend("audio_gap", 5.0)  # not exported
    store.add_counter("errors_total", 2, {"kind": "timeout", "workload": "a"})
    store.add_counter("errors_total", 1, {"kind": "timeout", "workload": "b"})
    store.add_gauge("vus", 7, {"workload": "a"})
    store.listen(None)
    store.add_counter("errors_total", 5, {"kind": "timeout"})
    families = _families(metrics.exposition().decode())
    turn = families["callbench_generator_turn_latency_seconds"]
    assert _value(turn, "_bucket", le="0.5") == 1
    assert _value(turn, "_bucket", le="10.0") == 1
    assert _value(turn, "_count") == 2
    assert _value(families["callbench_generator_errors"], "_total", kind="timeout") == 3
    assert _value(families["callbench_generator_vus"], "", workload="a") == 7
    assert not any("audio_gap" in name for name in families)
    assert store.counter("errors_total") == 8  # the store itself is unchanged by listening


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url")
    add_monitor_arguments(parser)
    return parser.parse_args(list(argv))


def _stack(tmp_path: Path) -> Path:
    backend = PartState(name="backend", urls={"ws": "ws://127.0.0.1:4100"}, ports={"http": 4100})
    targets = tmp_path / "prometheus" / "targets" / "generator.json"
    StackState(state_dir=str(tmp_path), backend=backend, generator_targets=str(targets)).save()
    return targets


def test_flags_decide_when_runs_serve(tmp_path: Path) -> None:
    targets = _stack(tmp_path)
    on_stack = export_settings_from_args(_args("--url", "ws://127.0.0.1:4100/ws"), tmp_path, True)
    assert on_stack == ExportSettings(port=0, announce=FileSdTargets(targets))
    assert export_settings_from_args(_args("--metrics-port", "0"), tmp_path, True) is None
    # Elsewhere: only when asked, and without advertising in the stack's file.
    elsewhere = _args("--url", "wss://agent.example.invalid/ws", "--metrics-port", "9464")
    assert export_settings_from_args(elsewhere, tmp_path, True) == ExportSettings(port=9464)
    assert (
        export_settings_from_args(_args("--url", "wss://agent.example.invalid/ws"), tmp_path, False)
        is None
    )
    assert export_settings_from_args(_args(), tmp_path / "none", False) is None
    with pytest.raises(UsageError):
        export_settings_from_args(_args("--metrics-port", "70000"), tmp_path, False)
