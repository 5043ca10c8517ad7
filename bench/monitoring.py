"""The bench's adapters to the generator's monitor and exporter: what the generator needs to
know of the bench's own stack, handed over as plain values.

    from_stack(state)          a MonitorConfig of the stack's sources (backend admin endpoints
                               and PID or container, the upstream's /metrics, Postgres)
    load_stack_config(dir)     the same from ``DIR/stack.json`` (None: no stack there)
    aims_at_stack(url, dir)    whether a run aimed at ``url`` targets that stack's backend
    FileSdTargets(path)        the exporter's announce hook: the run's /metrics address in the
                               stack Prometheus's file_sd file while it serves
    runbooks_dir()             where the findings' runbook ids resolve (bench/runbooks/ID.md),
                               handed to the reports (RunOptions.runbooks)

The generator reads none of the bench's files itself (generator/ never imports bench/).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bench.drilling.model import runbooks_dir
from bench.stack.prometheus import write_file_sd
from bench.stack.state import StackState
from generator.monitor.config import MonitorConfig, monitor_config

STACK_DIR = Path(".callbench")
__all__ = ["STACK_DIR", "FileSdTargets", "aims_at_stack", "from_stack", "runbooks_dir"]


def from_stack(state: StackState, **settings: object) -> MonitorConfig:
    """Sources of the bench's stack: the backend's admin endpoints and PID (its container, on the
    compose runtime), the upstream's admin /metrics, and Postgres through its superuser DSN."""
    fields: dict[str, object] = dict(settings)
    backend = state.backend
    if backend is not None:
        admin = backend.urls.get("admin") or backend.urls.get("http")
        if admin:
            fields["metrics_url"] = backend.urls.get("metrics", f"{admin}/metrics")
            fields["health_url"] = f"{admin}/healthz"
            fields["memory_url"] = f"{admin}/debug/memory"
        # A container is read through the Docker SDK: its PID may live in another namespace
        # (a remote or rootless engine), and it changes when the container restarts.
        if backend.container is not None:
            fields["container"] = backend.container
        elif backend.pid is not None:
            fields["pid"] = backend.pid
    if state.realtime is not None:
        admin = state.realtime.urls.get("admin")
        if admin:
            fields["upstream_metrics_url"] = state.realtime.urls.get("metrics", f"{admin}/metrics")
    if state.postgres is not None:
        fields["db_dsn"] = state.postgres.admin_dsn
    return monitor_config(**fields)


def load_stack_config(state_dir: Path, **settings: object) -> MonitorConfig | None:
    """The stack's monitor config, or None when no stack was brought up in ``state_dir``."""
    state = StackState.load(state_dir)
    return None if state is None else from_stack(state, **settings)


def aims_at_stack(url: str | None, state_dir: Path) -> bool:
    """Watching the bench's stack by default is right only when the run aims at its backend: a
    run against a real deployment must not report the local stack's evidence as its own. A run
    with no URL (a scenario file: its targets are its own) counts as aimed at the stack."""
    state = StackState.load(state_dir)
    if state is None or state.backend is None:
        return False
    if not url:
        return True
    backend = {urlsplit(u).netloc for u in state.backend.urls.values()}
    return urlsplit(url).netloc in backend


def stack_targets_file(state_dir: Path) -> Path | None:
    """The file_sd file the stack's Prometheus reads the generator's address from, if any."""
    state = StackState.load(state_dir)
    if state is None or not state.generator_targets:
        return None
    return Path(state.generator_targets)


@dataclass(frozen=True)
class FileSdTargets:
    """The exporter's announce hook (generator/metrics/exporter.py): names the run's address in
    a file_sd file while it serves and empties the file when it stops."""

    path: Path

    def __call__(self, address: str | None) -> None:
        if address is None:
            write_file_sd(self.path, [])
        else:
            write_file_sd(self.path, [address], {"part": "generator"})
