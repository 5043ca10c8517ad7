"""The monitor's and the exporter's command-line flags, shared by `callbench calls`, `run` and
the traffic commands, turned into the generator's plain values (a MonitorConfig, ExportSettings):
explicit sources for a real deployment, or the bench's stack from `.callbench/stack.json`
(bench/monitoring.py) — the default when that file exists, no source is named and the run aims at
the stack's backend. The same block decides whether runs serve their own /metrics
(`--metrics-port`; on by itself when the watched stack's Prometheus reads a generator targets
file).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.errors import UsageError
from bench.monitoring import (
    STACK_DIR,
    FileSdTargets,
    aims_at_stack,
    load_stack_config,
    stack_targets_file,
)
from generator.errors import InvalidInput
from generator.load.durations import parse_duration
from generator.metrics.exporter import ExportSettings
from generator.monitor.config import MonitorConfig, monitor_config

SOURCE_FLAGS = {
    "metrics_url": "--metrics-url",
    "health_url": "--health-url",
    "memory_url": "--memory-url",
    "upstream_metrics_url": "--upstream-metrics-url",
    "db_dsn": "--db-dsn",
    "pid": "--pid",
    "container": "--container",
}


def add_monitor_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "target monitor", "sample the target once a second (docs/monitor.md)"
    )
    group.add_argument("--metrics-url", help="the backend's Prometheus /metrics URL")
    group.add_argument("--health-url", help="the backend's /healthz (poolStats)")
    group.add_argument("--memory-url", help="the backend's /debug/memory (rss_mb)")
    group.add_argument("--upstream-metrics-url", help="the AI upstream's /metrics URL")
    group.add_argument("--db-dsn", help="Postgres DSN for pg_stat_activity (a superuser)")
    group.add_argument("--pid", type=int, help="the backend's local process id (CPU, RSS)")
    group.add_argument("--container", help="the backend's Docker container (CPU, memory)")
    group.add_argument(
        "--stack",
        action="store_true",
        help="watch the bench stack of .callbench/stack.json "
        "(the default when it exists and no source is named)",
    )
    group.add_argument(
        "--cooldown", help="how long to watch recovery after load (default 60s; ends early)"
    )
    group.add_argument("--no-monitor", action="store_true", help="do not watch the target")
    export = parser.add_argument_group("generator metrics", "the run's own Prometheus /metrics")
    export.add_argument(
        "--metrics-port",
        type=int,
        help="serve the call metrics at /metrics on this port while the run goes (0: off; "
        "default: a free port when watching the bench's stack with Prometheus, else off)",
    )
    export.add_argument(
        "--metrics-host", default="127.0.0.1", help="address to serve /metrics on (127.0.0.1)"
    )


def _settings(args: argparse.Namespace) -> dict[str, object]:
    cooldown = getattr(args, "cooldown", None)
    if cooldown is None:
        return {}
    try:
        seconds = parse_duration(str(cooldown))
    except ValueError as exc:
        raise UsageError(f"--cooldown: {exc}") from None
    if seconds < 0:
        raise UsageError("--cooldown must not be negative")
    return {"cooldown_s": seconds}


def _url(args: argparse.Namespace) -> str | None:
    url = getattr(args, "url", None)
    return None if url is None else str(url)


def monitor_config_from_args(
    args: argparse.Namespace, stack_dir: Path = STACK_DIR
) -> MonitorConfig | None:
    """The config the flags ask for, or None for no monitor."""
    explicit = {
        field: getattr(args, field, None)
        for field in SOURCE_FLAGS
        if getattr(args, field, None) is not None
    }
    use_stack = bool(getattr(args, "stack", False))
    if getattr(args, "no_monitor", False):
        named = [SOURCE_FLAGS[f] for f in explicit] + (["--stack"] if use_stack else [])
        if named:
            raise UsageError(f"--no-monitor cannot be combined with {', '.join(named)}")
        return None
    settings = _settings(args)
    if not use_stack and not explicit and not aims_at_stack(_url(args), stack_dir):
        return None
    try:
        if use_stack or not explicit:
            config = load_stack_config(stack_dir, **settings)
            if config is None:
                if use_stack:
                    raise UsageError(f"--stack: no stack in {stack_dir} (run `callbench up`)")
                return None
            if explicit:
                config = monitor_config(**{**config.model_dump(), **explicit})
            return config
        return monitor_config(**explicit, **settings)
    except InvalidInput as exc:
        raise UsageError("; ".join(exc.problems)) from None


def export_settings_from_args(
    args: argparse.Namespace, stack_dir: Path, watching: bool
) -> ExportSettings | None:
    """Whether runs serve /metrics, where, and which file_sd file names them (None: they do not).
    Automatically only while watching the bench's own stack, whose Prometheus expects them."""
    port = getattr(args, "metrics_port", None)
    host = str(getattr(args, "metrics_host", None) or "127.0.0.1")
    if port is not None and not 0 <= int(port) <= 65535:
        raise UsageError(f"--metrics-port must be 0..65535, not {port}")
    if port == 0:
        return None
    targets = None
    if watching and (getattr(args, "stack", False) or aims_at_stack(_url(args), stack_dir)):
        targets = stack_targets_file(stack_dir)
    if port is None and targets is None:
        return None
    announce = None if targets is None else FileSdTargets(targets)
    return ExportSettings(port=int(port or 0), host=host, announce=announce)
