"""Monitor configuration from flags and from the stack file, combining source answers into one
sample, and the evidence arithmetic (counter increases, recovery)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from bench.commands.monitor_flags import add_monitor_arguments
from bench.commands.monitor_flags import monitor_config_from_args as from_args
from bench.commands.run_options import run_options
from bench.errors import UsageError
from bench.stack.state import PartState, PostgresState, StackState
from generator.monitor.evidence import MonitorEvidence
from generator.monitor.monitor import combine
from generator.monitor.sources import SourceDown


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_monitor_arguments(parser)
    return parser.parse_args(list(argv))


def save_stack(directory: Path) -> None:
    StackState(
        state_dir=str(directory),
        postgres=PostgresState(
            name="postgres", dsn="postgresql://app@127.0.0.1:5/app",
            admin_dsn="postgresql://postgres@127.0.0.1:5/app", base_dir="/tmp/x",
            max_connections=20,
        ),
        realtime=PartState(name="realtime", urls={"admin": "http://127.0.0.1:7"}),
        backend=PartState(
            name="backend", pid=4321, urls={"http": "http://127.0.0.1:8", "admin": "http://127.0.0.1:9"}
        ),
    ).save(directory)  # fmt: skip


def test_stack_is_the_default_when_its_file_exists(tmp_path: Path) -> None:
    assert from_args(parse(), tmp_path) is None  # no stack, no flags: no monitor
    save_stack(tmp_path)
    config = from_args(parse("--cooldown", "5s"), tmp_path)
    assert config is not None
    assert config.metrics_url == "http://127.0.0.1:9/metrics"
    assert config.health_url == "http://127.0.0.1:9/healthz"
    assert config.memory_url == "http://127.0.0.1:9/debug/memory"
    assert config.upstream_metrics_url == "http://127.0.0.1:7/metrics"
    assert config.db_dsn == "postgresql://postgres@127.0.0.1:5/app"
    assert config.pid == 4321
    assert config.cooldown_s == 5
    explicit = from_args(parse("--pid", "99"), tmp_path)
    assert explicit is not None
    assert explicit.pid == 99
    assert explicit.metrics_url is None  # an explicit source replaces the default stack
    both = from_args(parse("--stack", "--pid", "99"), tmp_path)
    assert both is not None
    assert (both.pid, both.metrics_url) == (99, "http://127.0.0.1:9/metrics")
    assert from_args(parse("--no-monitor"), tmp_path) is None


def test_stack_is_watched_by_default_only_when_the_run_aims_at_its_backend(
    tmp_path: Path,
) -> None:
    save_stack(tmp_path)
    at_stack = parse("--cooldown", "5s")
    at_stack.url = "ws://127.0.0.1:8/ws/voice"
    assert from_args(at_stack, tmp_path) is not None
    elsewhere = parse()
    elsewhere.url = "wss://agent.example.com/ws/voice"
    assert from_args(elsewhere, tmp_path) is None  # a real deployment is not the local stack
    elsewhere_forced = parse("--stack")
    elsewhere_forced.url = "wss://agent.example.com/ws/voice"
    assert from_args(elsewhere_forced, tmp_path) is not None  # unless asked for


def test_bad_flags_are_usage_errors_with_every_problem(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--stack: no stack"):
        from_args(parse("--stack"), tmp_path)
    with pytest.raises(UsageError, match="cannot be combined with --metrics-url"):
        from_args(parse("--no-monitor", "--metrics-url", "http://x/metrics"), tmp_path)
    with pytest.raises(UsageError) as caught:
        from_args(parse("--metrics-url", "ftp://x", "--db-dsn", "mysql://x"), tmp_path)
    assert "metrics_url" in str(caught.value)
    assert "db_dsn" in str(caught.value)
    with pytest.raises(UsageError, match="--cooldown"):
        from_args(parse("--pid", "1", "--cooldown", "soon"), tmp_path)


def test_run_options_hand_each_run_a_fresh_monitor(tmp_path: Path) -> None:
    args = parse("--pid", "1")
    options = run_options(args, tmp_path / "run", tmp_path)
    assert options.monitored
    first, second = options.new_monitor(), options.new_monitor()
    assert first is not None
    assert second is not None
    assert first is not second  # each step of a plan watches with its own
    assert first.config.pid == 1
    assert not run_options(parse(), tmp_path / "run", tmp_path).monitored  # no stack, no flags
    args.worker_slice = "0/2"
    worker = run_options(args, tmp_path / "run", tmp_path)
    assert worker.new_monitor() is None  # workers leave monitoring to their parent
    assert worker.export is None


class Named:
    def __init__(self, name: str, role: str) -> None:
        self.name, self.role = name, role

    async def sample(self) -> dict[str, Any]:
        return {}

    async def close(self) -> None:
        return None


def test_combine_marks_the_backend_down_and_tells_slow_from_gone() -> None:
    metrics, health, proc = Named("m", "backend"), Named("h", "backend"), Named("p", "process")
    up = combine([(metrics, {"rss_bytes": 1.0}), (proc, {"process_alive": True, "rss_bytes": 2.0})])
    assert up["backend_up"] is True
    assert up["rss_bytes"] == 2.0  # the process's own figure wins
    refused = combine([(metrics, SourceDown("refused")), (health, SourceDown("refused"))])
    assert refused["backend_up"] is False
    assert "backend_unresponsive" not in refused
    assert refused["down"] == ["m", "h"]
    slow = combine([(metrics, SourceDown("late", timeout=True))])
    assert slow["backend_up"] is False
    assert slow["backend_unresponsive"] is True
    half = combine([(metrics, SourceDown("refused")), (health, {"pool_size": 3})])
    assert half["backend_up"] is True
    gone = combine([(proc, {"process_alive": False})])
    assert gone["backend_up"] is False


def test_evidence_increase_and_recovery() -> None:
    samples = [
        {"t": -2, "phase": "baseline", "rss_bytes": 100.0, "pg_total": 2, "c": 5},
        {"t": -1, "phase": "baseline", "rss_bytes": 100.0, "pg_total": 2, "c": 5},
        {"t": 0, "phase": "load", "rss_bytes": 180.0, "pg_total": 9, "c": 7},
        {"t": 1, "phase": "load", "rss_bytes": 200.0, "pg_total": 10, "c": 1},  # restart
        {"t": 2.5, "phase": "cooldown", "rss_bytes": 150.0, "pg_total": 3},
        {"t": 4.0, "phase": "cooldown", "rss_bytes": 115.0, "pg_total": 2},
    ]
    ev = MonitorEvidence(tuple(samples), load_end_t=2.0)
    assert ev.increase("c") == 3  # 5 → 7, then a restart counts its new 1
    assert ev.peak["rss_bytes"] == 200
    memory = ev.memory_recovery()
    assert (memory.recovered, memory.after_s, memory.growth_pct) == (True, 2.0, 15.0)
    db = ev.db_recovery()
    assert (db.key, db.recovered, db.after_s) == ("pg_total", True, 0.5)
    assert MonitorEvidence(tuple(samples[:4])).memory_recovery().recovered is None
    summary = ev.as_summary()
    assert summary["samples"] == {"baseline": 2, "load": 2, "cooldown": 2}
