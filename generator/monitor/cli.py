"""The monitor's command-line flags, shared by `callbench calls`, `run` (and the traffic
commands): explicit sources for a real deployment, or the bench's stack from
`.callbench/stack.json` — the default when that file exists and no source is named. The same
block decides whether runs serve their own /metrics (`--metrics-port`; on by itself when the
watched stack's Prometheus reads a generator targets file).
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from bench.errors import UsageError
from bench.stack.state import StackState
from generator.errors import InvalidInput
from generator.load.durations import parse_duration
from generator.metrics.exporter import ExportSettings
from generator.monitor.config import MonitorConfig, load_stack_config, monitor_config
from generator.monitor.monitor import Monitor

STACK_DIR = Path(".callbench")
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
    if not use_stack and not explicit and not _targets_stack(args, stack_dir):
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


def _targets_stack(args: argparse.Namespace, stack_dir: Path) -> bool:
    """Watching the bench's stack by default is right only when the run aims at its backend: a
    run against a real deployment must not report the local stack's evidence as its own."""
    url = getattr(args, "url", None)
    state = StackState.load(stack_dir)
    if state is None or state.backend is None:
        return False
    if not url:
        return True  # a scenario file: its targets are its own; `--stack` or flags say otherwise
    backend = {urlsplit(u).netloc for u in state.backend.urls.values()}
    return urlsplit(str(url)).netloc in backend


def monitor_from_args(args: argparse.Namespace, stack_dir: Path = STACK_DIR) -> Monitor | None:
    config = monitor_config_from_args(args, stack_dir)
    return None if config is None or config.is_empty else Monitor(config)


_ambient: list[MonitorConfig] = []
_ambient_export: list[ExportSettings | None] = []


@contextlib.contextmanager
def monitoring(args: argparse.Namespace, stack_dir: Path = STACK_DIR) -> Iterator[None]:
    """While inside, every Runner made without an explicit monitor watches the target the flags
    name (a fresh Monitor per run, so each step of a plan has its own). Commands wrap their run
    in it, so the path from flags to Runner (plans, distributed runs) needs no monitor plumbing.
    A worker process of `--workers` never monitors: its parent does."""
    worker = bool(getattr(args, "worker_slice", None))
    config = None if worker else monitor_config_from_args(args, stack_dir)
    watching = config is not None and not config.is_empty
    export = None if worker else export_settings_from_args(args, stack_dir, watching)
    if watching:
        assert config is not None
        _ambient.append(config)
    _ambient_export.append(export)
    try:
        yield
    finally:
        _ambient_export.pop()
        if watching:
            _ambient.pop()


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
    if watching and (getattr(args, "stack", False) or _targets_stack(args, stack_dir)):
        state = StackState.load(stack_dir)
        if state is not None and state.generator_targets:
            targets = Path(state.generator_targets)
    if port is None and targets is None:
        return None
    return ExportSettings(port=int(port or 0), host=host, targets_file=targets)


def ambient_monitor() -> Monitor | None:
    """A new Monitor for the innermost `monitoring` block, or None outside one."""
    return Monitor(_ambient[-1]) if _ambient else None


def ambient_monitor_active() -> bool:
    """Whether runs started now would be monitored (inside a `monitoring` block that watches)."""
    return bool(_ambient)


def ambient_export() -> ExportSettings | None:
    """The /metrics settings of the innermost `monitoring` block (None: runs do not serve)."""
    return _ambient_export[-1] if _ambient_export else None
