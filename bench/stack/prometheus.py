"""Prometheus for the local runtime: ``bench/assets/prometheus/prometheus.yml`` (package data, a
template shared with the compose runtime) filled with loopback ports, ``alerts.yml`` copied beside
it, and the server started with its TSDB in the run directory. ``promtool`` checks live here too,
for tests and ``up``."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from string import Template

from bench.stack.assets import read_asset
from bench.stack.processes import (
    LOOPBACK,
    await_ready,
    find_binary,
    free_port,
    spawn,
)

# The template and the alert rules, inside bench/assets/ (read with importlib.resources).
CONFIG_TEMPLATE = "prometheus/prometheus.yml"
ALERT_RULES = "prometheus/alerts.yml"
# file_sd files, relative to the config (the template names them); see the template.
GENERATOR_TARGETS = Path("targets") / "generator.json"
POSTGRES_TARGETS = Path("targets") / "postgres.json"


@dataclass(frozen=True)
class PrometheusInfo:
    port: int
    pid: int
    url: str
    config_path: str
    log_path: str
    generator_targets: str  # the file_sd file a generator run writes its /metrics address into


def render_config(
    *, prometheus: str, backend: str, realtime: str, scrape_interval: str = "1s"
) -> str:
    """Fill the template; each target is ``host:port``. KeyError names a missing placeholder."""
    template = Template(read_asset(CONFIG_TEMPLATE))
    return template.substitute(
        SCRAPE_INTERVAL=scrape_interval, PROMETHEUS=prometheus, BACKEND=backend, REALTIME=realtime
    )


def write_file_sd(path: Path, addresses: list[str], labels: dict[str, str] | None = None) -> None:
    """Write a file_sd target file atomically (Prometheus may read it at any moment); no
    addresses writes ``[]``, which drops the job's targets."""
    groups = [{"targets": addresses, "labels": labels or {}}] if addresses else []
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(groups) + "\n")
    os.replace(tmp, path)


def write_config(directory: Path, *, postgres: str | None = None, **targets: str) -> Path:
    """Write prometheus.yml and alerts.yml into ``directory``, and the file_sd target files
    (postgres_exporter's ``host:port`` when given, no generator yet); returns the config's path."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "prometheus.yml"
    config.write_text(render_config(**targets))
    (directory / "alerts.yml").write_text(read_asset(ALERT_RULES), encoding="utf-8")
    write_file_sd(directory / GENERATOR_TARGETS, [])
    exporters = [postgres] if postgres else []
    write_file_sd(directory / POSTGRES_TARGETS, exporters, {"part": "postgres"})
    return config


def promtool_check(kind: str, path: Path) -> subprocess.CompletedProcess[str]:
    """``promtool check config|rules PATH`` (config checks also check the rule files it names)."""
    return subprocess.run(
        [find_binary("promtool"), "check", kind, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=1.0) as response:
            return int(response.status) == 200
    except OSError:
        return False


def start_prometheus(
    run_dir: Path,
    log_path: Path,
    *,
    backend: str,
    realtime: str,
    postgres: str | None = None,
    scrape_interval: str = "1s",
    timeout: float = 20.0,
) -> PrometheusInfo:
    """Start Prometheus scraping ``backend``, ``realtime`` and (when given) postgres_exporter
    (``host:port`` of their /metrics), plus whatever generator run names itself in the file."""
    binary = find_binary("prometheus")
    directory = run_dir.absolute() / "prometheus"
    port = free_port()
    address = f"{LOOPBACK}:{port}"
    config = write_config(
        directory,
        prometheus=address,
        backend=backend,
        realtime=realtime,
        postgres=postgres,
        scrape_interval=scrape_interval,
    )
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={directory / 'data'}",
        f"--web.listen-address={address}",
        "--storage.tsdb.retention.time=1d",
        "--web.enable-lifecycle",
    ]
    proc = spawn(argv, log_path)
    url = f"http://{address}"

    await_ready(proc, "prometheus", log_path, lambda: _healthy(url), timeout=timeout)
    return PrometheusInfo(
        port=port,
        pid=proc.pid,
        url=url,
        config_path=str(config),
        log_path=str(log_path),
        generator_targets=str(directory / GENERATOR_TARGETS),
    )
