"""What the compose runtime reads and writes around ``docker-compose.yml``: ``--set`` overrides
turned into the file's environment variables (and the small JSON files it mounts), and the
resolved configuration (``compose config``) turned back into host-side URLs for ``StackState``.
Pure functions, so they are tested without a Docker engine; ``bench/stack/compose.py`` runs them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.stack.overrides import StackSettings
from bench.stack.processes import LOOPBACK
from bench.stack.state import PartState, PgBouncerState, PostgresState

# Backend knobs the compose file takes as variables; any other goes into the mounted JSON file.
BACKEND_VARS = {
    "db_pool_max": "BACKEND_DB_POOL_MAX",
    "db_statement_cache_size": "BACKEND_DB_STATEMENT_CACHE_SIZE",
    "seed": "BACKEND_SEED",
}
APP_DSN = "postgresql://callbench:callbench@{host}:{port}/callbench"


def settings_env(settings: StackSettings, files_dir: Path) -> dict[str, str]:
    """The compose file's variables for validated ``--set`` overrides; writes the realtime faults
    and the extra backend knobs as JSON files in ``files_dir`` (mounted read-only)."""
    env = {
        "POSTGRES_MAX_CONNECTIONS": str(settings.max_connections),
        "PGBOUNCER_POOL_SIZE": str(settings.pgbouncer_pool_size),
        "PGBOUNCER_MAX_CLIENT_CONN": str(settings.pgbouncer_max_client_conn),
        "REALTIME_SEED": str(settings.realtime_seed),
        "PROMETHEUS_SCRAPE_INTERVAL": settings.scrape_interval,
    }
    if settings.realtime_greeting_ms is not None:
        env["REALTIME_GREETING_MS"] = str(settings.realtime_greeting_ms)
    if settings.realtime_answer_ms is not None:
        env["REALTIME_ANSWER_MS"] = str(settings.realtime_answer_ms)
    files_dir.mkdir(parents=True, exist_ok=True)
    if settings.realtime_faults:
        faults = files_dir / "realtime-faults.json"
        _write_readable(faults, dict(settings.realtime_faults))
        env["REALTIME_FAULTS_FILE"] = str(faults.resolve())
    extra: dict[str, Any] = {}
    for key, text in settings.backend.items():
        if key in BACKEND_VARS:
            env[BACKEND_VARS[key]] = text
        else:
            extra[key] = _json_value(text)
    if extra:
        config = files_dir / "backend.json"
        _write_readable(config, extra)
        env["BACKEND_CONFIG_FILE"] = str(config.resolve())
    if settings.db_via == "pgbouncer":
        env["BACKEND_DB_HOST"] = "pgbouncer"
        env["BACKEND_DB_PORT"] = os.environ.get("PGBOUNCER_PORT", "6432")
    return env


def _json_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _write_readable(path: Path, data: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")
    path.chmod(0o644)  # the containers run as another user


def _flag(command: Sequence[str], name: str) -> str | None:
    """``--name=value`` or ``-c name=value`` from a resolved command."""
    for item in command:
        for prefix in (f"--{name}=", f"{name}="):
            if item.startswith(prefix):
                return item[len(prefix) :]
    return None


def _port_of(text: str | None) -> int | None:
    match = re.search(r":(\d+)$", text or "")
    return int(match.group(1)) if match else None


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return value.split()
    return [str(item) for item in value or []]


def host_address() -> str:
    """Where the host reaches published ports: CALLBENCH_BIND, with 0.0.0.0 meaning loopback."""
    host = os.environ.get("CALLBENCH_BIND", LOOPBACK)
    return LOOPBACK if host in ("", "0.0.0.0") else host


def describe(
    config: Mapping[str, Any],
    services: Sequence[str],
    bases: Mapping[str, Mapping[str, Any]],
    *,
    project: str,
    host: str = LOOPBACK,
) -> dict[str, PartState]:
    """StackState parts (keyed by field name) for the started ``services``, with host-side URLs
    read from each one's resolved command/environment; ``bases`` holds each part's name, pid,
    pid_create_time and state."""
    defs: Mapping[str, Any] = config.get("services", {})
    parts: dict[str, PartState] = {}
    for service in services:
        spec = defs.get(service, {})
        command = _as_list(spec.get("command"))
        environment = spec.get("environment") or {}
        base = dict(bases.get(service, {"name": service}))
        if service == "postgres":
            port = int(_flag(command, "port") or 5432)
            password = environment.get("POSTGRES_PASSWORD", "postgres")
            dsn = APP_DSN.format(host=host, port=port)
            parts["postgres"] = PostgresState(
                **base,
                urls={"dsn": dsn},
                ports={"postgres": port},
                dsn=dsn,
                admin_dsn=f"postgresql://postgres:{password}@{host}:{port}/callbench",
                base_dir=f"container:{project}/{service}",
                max_connections=int(_flag(command, "max_connections") or 100),
            )
        elif service == "pgbouncer":
            port = int(environment.get("PGBOUNCER_PORT", 6432))
            dsn = APP_DSN.format(host=host, port=port)
            parts["pgbouncer"] = PgBouncerState(
                **base,
                urls={"dsn": dsn},
                ports={"pgbouncer": port},
                dsn=dsn,
                config_path="/tmp/pgbouncer/pgbouncer.ini",
                default_pool_size=int(environment.get("PGBOUNCER_POOL_SIZE", 10)),
            )
        elif service in ("realtime", "backend"):
            parts[service] = _mock_part(service, command, base, host, spec)
        elif service == "prometheus":
            port = _port_of(environment.get("LISTEN")) or 9090
            parts["prometheus"] = PartState(
                **base, urls={"http": f"http://{host}:{port}"}, ports={"http": port}
            )
    return parts


def _mock_part(
    service: str, command: Sequence[str], base: Mapping[str, Any], host: str, spec: Any
) -> PartState:
    port = int(_flag(command, "port") or 0)
    admin_port = int(_flag(command, "admin-port") or 0)
    if service == "realtime":
        admin = f"http://{host}:{admin_port}"
        urls = {
            "ws": f"ws://{host}:{port}/v1/realtime",
            "admin": admin,
            "metrics": f"{admin}/metrics",
        }
        return PartState(**base, urls=urls, ports={"ws": port, "admin": admin_port})
    urls = {"http": f"http://{host}:{port}", "ws": f"ws://{host}:{port}"}
    # The backend binds its admin port to loopback: the host reaches it only on the host network.
    if spec.get("network_mode") == "host":
        urls["admin"] = f"http://{host}:{admin_port}"
    urls["metrics"] = f"{urls.get('admin', urls['http'])}/metrics"
    return PartState(**base, urls=urls, ports={"http": port, "admin": admin_port})
