"""The compose files as docker-compose resolves them: ``config -q`` passes for the users' file and
for it with the CI override, and the resolved services say what the issue asks (official images,
capped Postgres, health checks gating start order; host networking and local builds in CI).
Also the runtime's reading of that resolved config back into host URLs. Needs only the
docker-compose program, not an engine (scripts/compose-ci.sh installs it and runs this file)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.stack.assets import assets_dir, compose_env
from bench.stack.compose_config import describe, settings_env
from bench.stack.overrides import validate

ROOT = Path(__file__).resolve().parents[3]
BASE_FILE = ROOT / "docker-compose.yml"
PORTS_FILE = ROOT / "docker-compose.override.yml"
CI_FILE = ROOT / "docker-compose.ci.yml"
COMPOSE = shutil.which("docker-compose")

pytestmark = pytest.mark.skipif(COMPOSE is None, reason="docker-compose is not installed")


def _env(**extra: str) -> dict[str, str]:
    """The environment without any compose variable the caller's shell (or CI) may have set."""
    names = ("COMPOSE_", "POSTGRES_", "BACKEND_", "REALTIME_", "PROMETHEUS_", "GRAFANA_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(names)}
    env.pop("CALLBENCH_BIND", None)
    env.update(extra)
    return env


Files = Path | tuple[Path, ...]


def _compose(
    *files: Files, args: tuple[str, ...] = ("config",), env: Mapping[str, str] | None = None
) -> str:
    argv = [str(COMPOSE), "--project-directory", str(ROOT)]
    for item in files:
        for file in item if isinstance(item, tuple) else (item,):
            argv += ["-f", str(file)]
    environment = _env(**(env or {}))
    proc = subprocess.run(
        [*argv, *args], capture_output=True, text=True, env=environment, cwd=ROOT, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _services(*files: Files, **env: str) -> dict[str, Any]:
    resolved: dict[str, Any] = yaml.safe_load(_compose(*files, env=env))["services"]
    return resolved


# What a bare `docker-compose up` reads: the file and the override that publishes the ports.
USER_FILE = (BASE_FILE, PORTS_FILE)


def test_user_file_config_quiet_passes() -> None:
    assert _compose(BASE_FILE, args=("config", "-q")) == ""
    assert _compose(USER_FILE, args=("config", "-q")) == ""


def test_ci_override_config_quiet_passes() -> None:
    assert _compose(BASE_FILE, CI_FILE, args=("config", "-q")) == ""


def _mounts(services: Mapping[str, Any]) -> list[Path]:
    """Every host path the resolved services mount."""
    return [
        Path(volume["source"] if isinstance(volume, dict) else str(volume).split(":")[0])
        for spec in services.values()
        for volume in spec.get("volumes") or []
    ]


def _host_paths(services: Mapping[str, Any]) -> list[Path]:
    """Every host path the resolved services mount or build from (their Dockerfiles)."""
    builds = [
        Path(spec["build"]["context"]) / spec["build"].get("dockerfile", "Dockerfile")
        for spec in services.values()
        if spec.get("build")
    ]
    return _mounts(services) + builds


@pytest.mark.parametrize("ci", [False, True], ids=["users' files", "with the CI override"])
def test_every_mounted_or_built_path_exists_from_the_checkout(ci: bool) -> None:
    files = (*USER_FILE, CI_FILE) if ci else USER_FILE
    paths = _host_paths(_services(*files))
    assert len(paths) >= 6
    assert [path for path in paths if not path.exists()] == []


def test_the_packaged_files_mount_the_packaged_assets(tmp_path: Path) -> None:
    """What ComposeStack runs (any directory, the package's files, compose_env()): the same
    services, every mount inside the packaged bench/assets, the image built from the checkout."""
    packaged = (assets_dir() / "docker-compose.yml", assets_dir() / "docker-compose.override.yml")
    argv = [str(COMPOSE), "-p", "callbench"]
    for file in packaged:
        argv += ["-f", str(file)]
    proc = subprocess.run(
        [*argv, "config"],
        capture_output=True,
        text=True,
        env=_env(**compose_env()),
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    services = yaml.safe_load(proc.stdout)["services"]
    assert set(services) == set(_services(USER_FILE))
    paths = _host_paths(services)
    assert [path for path in paths if not path.exists()] == []
    mounts = _mounts(services)
    assert len(mounts) >= 5
    assert [p for p in mounts if not p.is_relative_to(assets_dir())] == []
    assert Path(services["backend"]["build"]["context"]) == ROOT


def test_user_file_uses_official_images_and_a_capped_postgres() -> None:
    services = _services(USER_FILE)
    assert services["postgres"]["image"] == "postgres:16"
    assert "max_connections=20" in services["postgres"]["command"]
    assert services["postgres"]["stop_signal"] == "SIGINT"
    assert services["prometheus"]["image"].startswith("prom/prometheus")
    assert services["grafana"]["image"].startswith("grafana/grafana")
    assert "network_mode" not in services["backend"]
    assert services["backend"]["ports"], "users reach the backend on a published port"
    base = _services(BASE_FILE)
    for name in services:  # the host network refuses published ports: they live in the override
        assert "ports" not in base[name], name


def test_every_service_has_a_health_check_and_waits_for_healthy_dependencies() -> None:
    services = _services(USER_FILE)
    for name, spec in services.items():
        if name != "generator":
            assert spec["healthcheck"]["test"], name
        for dep, condition in (spec.get("depends_on") or {}).items():
            assert condition == {"condition": "service_healthy"}, (name, dep)
    assert set(services["backend"]["depends_on"]) == {"postgres", "realtime"}


def test_profiles_keep_optional_services_out_of_a_plain_up() -> None:
    user = _services(USER_FILE)
    assert user["generator"]["profiles"] == ["load"]
    assert user["pgbouncer"]["profiles"] == ["pgbouncer"]
    assert "profiles" not in user["grafana"]  # users get Grafana by default
    ci = _services(BASE_FILE, CI_FILE)
    assert ci["grafana"]["profiles"] == ["grafana"]  # no package source has it in CI


def test_ci_uses_host_networking_and_local_builds_everywhere() -> None:
    services = _services(BASE_FILE, CI_FILE)
    for name, spec in services.items():
        assert spec.get("network_mode") == "host", name
        assert "networks" not in spec, name
        assert "ports" not in spec, name  # docker refuses port bindings on the host network
        if name != "grafana":
            assert spec["build"]["network"] == "host", name
            assert spec["build"]["args"]["BASE_IMAGE"] == "callbench-base:bookworm", name
    assert services["postgres"]["user"] == "postgres"
    assert "max_connections=20" in services["postgres"]["command"]
    assert "--host=127.0.0.1" in services["backend"]["command"]


def test_ports_and_knobs_follow_the_environment() -> None:
    services = _services(
        BASE_FILE,
        CI_FILE,
        POSTGRES_PORT="15432",
        BACKEND_DB_PORT="15432",
        BACKEND_PORT="18080",
        POSTGRES_MAX_CONNECTIONS="33",
        BACKEND_DB_POOL_MAX="50",
    )
    assert "port=15432" in services["postgres"]["command"]
    assert "max_connections=33" in services["postgres"]["command"]
    backend = services["backend"]["command"]
    assert "--port=18080" in backend
    assert "--set=db_pool_max=50" in backend
    assert any("@127.0.0.1:15432/" in item for item in backend)


@pytest.mark.parametrize("with_ci", [False, True])
def test_resolved_config_describes_host_urls(with_ci: bool) -> None:
    files = (BASE_FILE, CI_FILE) if with_ci else USER_FILE
    config = {"services": _services(files, BACKEND_PORT="18080", BACKEND_ADMIN_PORT="18081")}
    services = ["postgres", "realtime", "backend", "prometheus"]
    parts = describe(config, services, {}, project="p", host="127.0.0.1")
    assert parts["backend"].urls["ws"] == "ws://127.0.0.1:18080"
    assert parts["realtime"].urls["ws"] == "ws://127.0.0.1:8765/v1/realtime"
    assert parts["prometheus"].urls["http"] == "http://127.0.0.1:9090"
    postgres = parts["postgres"]
    assert postgres.max_connections == 20  # type: ignore[attr-defined]
    assert postgres.urls["dsn"] == "postgresql://callbench:callbench@127.0.0.1:5432/callbench"
    # The backend's admin port is loopback-only inside its container: reachable on host networks.
    assert ("admin" in parts["backend"].urls) is with_ci
    expected = "http://127.0.0.1:18081/metrics" if with_ci else "http://127.0.0.1:18080/metrics"
    assert parts["backend"].urls["metrics"] == expected


def test_overrides_become_variables_and_mounted_files(tmp_path: Path) -> None:
    settings = validate(
        {
            "postgres.max_connections": "20",
            "backend.db_pool_max": "50",
            "backend.leak_db_connections": "true",
            "realtime.faults": '{"stall": {"probability": 0.5}}',
        }
    )
    env = settings_env(settings, tmp_path)
    assert env["POSTGRES_MAX_CONNECTIONS"] == "20"
    assert env["BACKEND_DB_POOL_MAX"] == "50"
    assert yaml.safe_load(Path(env["BACKEND_CONFIG_FILE"]).read_text()) == {
        "leak_db_connections": True
    }
    faults = yaml.safe_load(Path(env["REALTIME_FAULTS_FILE"]).read_text())
    assert faults == {"stall": {"probability": 0.5}}
    services = _services(USER_FILE, **env)
    assert f"{env['BACKEND_CONFIG_FILE']}:/etc/callbench/backend.json:ro" in " ".join(
        str(v) for v in services["backend"]["volumes"]
    )
