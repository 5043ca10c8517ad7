"""The compose runtime: the stack of ``docker-compose.yml`` (plus any override, e.g. CI's) as
containers, behind the same ``Runtime`` protocol as ``LocalStack`` (bench/stack/runtime.py):
``up() -> StackState``, ``down()``, ``kill(part)``, ``restart(part)``, ``state``; plus
``status()``, ``stats()`` (CPU, memory) for the monitor and ``logs()`` for failures.

The compose files are package data (``bench/assets/docker-compose*.yml``, links to the
checkout's own), so an installed ``callbench`` runs the same files; every path they mount comes
from ``CALLBENCH_ASSETS``, set here to the packaged directory (bench/stack/assets.py).

Lifecycle (up, down) goes through the compose CLI (``docker-compose``, or the ``docker compose``
plugin), which owns build, dependency order and health checks; per-container work goes through
the Docker SDK, finding containers by compose's project/service labels. Host-side URLs are read
from the resolved configuration (``compose config``), so they follow the same environment
variables as the file. ``--set`` overrides become those variables (or small files the compose
file mounts): run ``python -m bench.stack.compose_cli up|status|stats|down`` to drive it by hand.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import yaml

from bench.errors import StackError
from bench.stack import health, overrides
from bench.stack.assets import assets_dir, checkout_root, compose_env
from bench.stack.compose_config import describe, host_address, settings_env
from bench.stack.processes import pid_create_time
from bench.stack.state import StackState
from generator.monitor.process import cpu_percent_from_stats

COMPOSE_FILE = "docker-compose.yml"
USER_OVERRIDE = "docker-compose.override.yml"  # the users' published ports
DEFAULT_PROJECT = "callbench"
DEFAULT_IMAGE = "callbench:latest"

Echo = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class ContainerStats:
    """One container's resource use at one moment (``docker stats``' arithmetic)."""

    service: str
    cpu_percent: float
    memory_bytes: int
    memory_limit_bytes: int


def compose_command() -> list[str]:
    """``docker-compose`` when installed, else the ``docker compose`` plugin; StackError if none."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    raise StackError("compose", "neither docker-compose nor the docker compose plugin is installed")


def default_files() -> list[Path]:
    """``COMPOSE_FILE`` (os.pathsep-separated, as compose reads it; made absolute), else what a
    bare ``docker-compose`` reads, from the package: the users' file and its override."""
    listed = os.environ.get("COMPOSE_FILE")
    if listed:
        return [Path(item).absolute() for item in listed.split(os.pathsep) if item]
    folder = assets_dir()
    override = folder / USER_OVERRIDE
    return [folder / COMPOSE_FILE] + ([override] if override.is_file() else [])


def require_engine() -> None:
    """Fail with one clear line when no Docker engine answers (compose would print a trace).
    A plain socket, not the SDK: the SDK leaks its socket when the engine is missing."""
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    parts = urlsplit(where)
    try:
        if parts.scheme == "unix":
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(5)
                sock.connect(parts.path)
        else:
            with socket.create_connection((parts.hostname or "", parts.port or 2375), timeout=5):
                pass
    except OSError:
        raise StackError(
            "docker",
            f"no Docker engine answers at {where}; start dockerd (scripts/compose-ci.sh shows "
            "how on a machine without one, docs/compose.md explains) or use --runtime local",
        ) from None


class ComposeStack:
    """``up()`` returns the StackState (``runtime="compose"``); ``down()`` removes the containers;
    ``with ComposeStack(...) as stack:`` starts it (unless already up) and always tears it down."""

    def __init__(
        self,
        state_dir: Path = Path(".callbench"),
        overrides: Mapping[str, str] | None = None,
        *,
        files: Sequence[Path] | None = None,
        project: str | None = None,
        timeout: float = 600.0,
        echo: Echo = _quiet,
    ) -> None:
        # Absolute: the files written under it are mounted by containers started elsewhere.
        self.state_dir = Path(state_dir).absolute()
        self.overrides = dict(overrides or {})
        self.files = [Path(f).absolute() for f in (files or default_files())]
        self.project = project or os.environ.get("COMPOSE_PROJECT_NAME", DEFAULT_PROJECT)
        self.timeout = timeout
        self.echo = echo
        self.state: StackState | None = None
        self._env: dict[str, str] = {}

    def __enter__(self) -> ComposeStack:
        if self.state is None:
            self.up()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.down()

    # -- the compose CLI -------------------------------------------------------------------
    def compose(
        self, *args: str, timeout: float | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        argv = [*compose_command(), "-p", self.project]
        for file in self.files:
            argv += ["-f", str(file)]
        argv += list(args)
        env = {**compose_env(), **os.environ, **self._env}
        try:
            proc = subprocess.run(
                argv, capture_output=True, text=True, env=env, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise StackError("compose", f"`{' '.join(args)}` took over {timeout:.0f} s") from exc
        if check and proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip()[-4000:]
            raise StackError("compose", f"`{' '.join(args)}` exited {proc.returncode}", tail)
        return proc

    def config(self) -> dict[str, Any]:
        """The resolved configuration (variables substituted, overrides merged)."""
        loaded = yaml.safe_load(self.compose("config", timeout=60).stdout)
        if not isinstance(loaded, dict):
            raise StackError("compose", "`config` printed no mapping")
        return loaded

    # -- lifecycle -------------------------------------------------------------------------
    def up(self) -> StackState:
        """Start the stack and wait until every started service is healthy; on failure, name
        the service, show its log tail, and remove what started."""
        settings = overrides.validate(self.overrides)
        require_engine()
        self._env = settings_env(settings, self.state_dir / "compose")
        services = ["postgres", "realtime", "backend"]
        if settings.pgbouncer == "on" or settings.db_via == "pgbouncer":
            services.insert(1, "pgbouncer")
        config = self.config()
        if checkout_root() is None:
            self._require_prebuilt_image(config)
        if settings.prometheus != "off":
            services.append("prometheus")
            grafana = config.get("services", {}).get("grafana", {})
            if "grafana" not in (grafana.get("profiles") or []):
                services.append("grafana")
        self.echo(f"docker compose up: {', '.join(services)}")
        state = StackState(
            runtime="compose",
            state_dir=str(self.state_dir.resolve()),
            overrides=dict(settings.raw),
        )
        state.save(self.state_dir)
        try:
            args = ["--profile", "pgbouncer"] if "pgbouncer" in services else []
            try:
                self.compose(*args, "up", "-d", *services, timeout=self.timeout)
            except StackError as exc:
                raise self._culprit(services) or exc from None
            self.wait_healthy(services)
            state = self._describe(state, config, services)
        except BaseException:
            with contextlib.suppress(StackError):
                self.down()
            raise
        state.save(self.state_dir)
        self.state = state
        return state

    def _require_prebuilt_image(self, config: Mapping[str, Any]) -> None:
        """An installed wheel has no Dockerfile or sources to build the callbench image from: say
        so before compose tries (and fails with a build error about a missing Dockerfile)."""
        image = str(config.get("services", {}).get("backend", {}).get("image") or DEFAULT_IMAGE)
        import docker  # the SDK is only needed by the compose runtime

        try:
            self._client().images.get(image)
        except docker.errors.ImageNotFound:
            raise StackError(
                "compose",
                f"the image {image} is not built, and an installed callbench has no sources to "
                "build it from: build it once from a checkout (`docker-compose build`), or name "
                "an image you have with CALLBENCH_IMAGE (docs/compose.md)",
            ) from None

    def _culprit(self, services: Sequence[str]) -> StackError | None:
        """The first service whose container failed, with its log (compose only says "up")."""
        for service in services:
            with contextlib.suppress(StackError):
                status = self._health(service)
                if status in ("unhealthy", "exited", "dead"):
                    return StackError(service, f"container is {status}", self.logs(service))
        return None

    def wait_healthy(self, services: Sequence[str]) -> None:
        deadline = time.monotonic() + self.timeout
        pending = list(services)
        while pending:
            for service in list(pending):
                status = self._health(service)
                if status == "healthy":
                    pending.remove(service)
                elif status in ("unhealthy", "exited", "dead", "missing"):
                    raise StackError(service, f"container is {status}", self.logs(service))
            if pending and time.monotonic() > deadline:
                raise StackError(
                    pending[0], f"not healthy after {self.timeout:.0f} s", self.logs(pending[0])
                )
            if pending:
                time.sleep(0.5)

    def down(self) -> bool:
        """Remove the project's containers and volumes; False when none existed."""
        existed = bool(self._containers())
        self.compose("--profile", "pgbouncer", "down", "-v", "--remove-orphans", timeout=120)
        StackState.remove(self.state_dir)
        self.state = None
        return existed

    def status(self) -> list[health.PartHealth]:
        state = self._load()
        return [] if state is None else health.probe_all(state)

    def _load(self) -> StackState | None:
        """The stack this object started, or the one stack.json names (with its overrides)."""
        if self.state is None:
            saved = StackState.load(self.state_dir)
            if saved is not None and saved.runtime == "compose":
                settings = overrides.validate(saved.overrides)
                self._env = settings_env(settings, self.state_dir / "compose")
                self.state = saved
        return self.state

    # -- containers (Docker SDK) -----------------------------------------------------------
    def _client(self) -> Any:
        import docker  # the SDK is only needed by the compose runtime

        try:
            return docker.from_env()
        except docker.errors.DockerException as exc:
            raise StackError("docker", f"no Docker engine answers: {exc}") from exc

    def _containers(self, service: str | None = None) -> list[Any]:
        labels = [f"com.docker.compose.project={self.project}"]
        if service is not None:
            labels.append(f"com.docker.compose.service={service}")
        found: list[Any] = self._client().containers.list(all=True, filters={"label": labels})
        return found

    def container(self, service: str) -> Any:
        found = self._containers(service)
        if not found:
            raise StackError(service, "no container (is the compose stack up?)")
        return found[0]

    def _health(self, service: str) -> str:
        found = self._containers(service)
        if not found:
            return "missing"
        found[0].reload()
        state = found[0].attrs.get("State", {})
        if state.get("Status") in ("exited", "dead"):
            return str(state["Status"])
        return str(state.get("Health", {}).get("Status", "healthy" if state.get("Running") else ""))

    def logs(self, service: str, tail: int = 60) -> str:
        try:
            raw: bytes = self.container(service).logs(tail=tail)
        except StackError as exc:
            return exc.reason
        return raw.decode(errors="replace")

    def stats(self, services: Sequence[str] | None = None) -> list[ContainerStats]:
        """CPU (percent of one core, summed over cores as ``docker stats`` shows) and memory."""
        result = []
        for container in self._containers():
            service = container.labels.get("com.docker.compose.service", container.name)
            if services is not None and service not in services:
                continue
            if container.status != "running":
                continue
            raw = container.stats(stream=False)
            percent = cpu_percent_from_stats(raw) or 0.0
            memory = raw.get("memory_stats", {})
            result.append(
                ContainerStats(
                    service=service,
                    cpu_percent=percent,
                    memory_bytes=int(memory.get("usage", 0)),
                    memory_limit_bytes=int(memory.get("limit", 0)),
                )
            )
        return sorted(result, key=lambda s: s.service)

    def kill(self, part: str) -> str:
        """The crash drill's crash: the container dies at once (SIGKILL), as a process would."""
        container = self.container(part)
        container.kill(signal="SIGKILL")
        return f"container {container.name}"

    def restart(self, part: str, *, timeout: float = 20.0) -> None:
        """Restart (or start a killed) container in place; wait for its health check."""
        self.container(part).restart(timeout=int(timeout))
        self.wait_healthy([part])
        state = self._load()
        if state is not None:  # the container's PID changed: record the new one
            services = [part.name for part in state.parts()]
            self.state = self._describe(state, self.config(), services)
            self.state.save(self.state_dir)

    # -- StackState ------------------------------------------------------------------------
    def _describe(
        self, state: StackState, config: Mapping[str, Any], services: Sequence[str]
    ) -> StackState:
        bases = {}
        for service in services:
            container = self.container(service)
            container.reload()
            pid = int(container.attrs.get("State", {}).get("Pid") or 0) or None
            bases[service] = {
                "name": service,
                "pid": pid,
                "pid_create_time": pid_create_time(pid) if pid else None,
                "state": "running",
                "container": container.name,
            }
        parts = describe(config, services, bases, project=self.project, host=host_address())
        return state.model_copy(update=parts)
