"""The compose runtime: the stack of ``docker-compose.yml`` (plus any override, e.g. CI's) as
containers, behind the same shape as ``LocalStack``: ``up() -> StackState``, ``down()``,
``status()``; plus what the drills need from containers — ``stats()`` (CPU, memory), ``kill()``
and ``restart()`` for the crash drill, ``logs()`` for failures.

Lifecycle (up, down) goes through the compose CLI (``docker-compose``, or the ``docker compose``
plugin), which owns build, dependency order and health checks; per-container work goes through
the Docker SDK, finding containers by compose's project/service labels. Host-side URLs are read
from the resolved configuration (``compose config``), so they follow the same environment
variables as the file. ``--set`` overrides become those variables (or small files the compose
file mounts): run ``python -m bench.stack.compose up|status|stats|down`` to drive it by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import yaml

from bench.errors import StackError
from bench.stack import health, overrides
from bench.stack.compose_config import describe, host_address, settings_env
from bench.stack.processes import pid_create_time
from bench.stack.state import StackState
from generator.monitor.process import cpu_percent_from_stats

PROJECT_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
USER_OVERRIDE = PROJECT_ROOT / "docker-compose.override.yml"  # the users' published ports
CI_OVERRIDE = PROJECT_ROOT / "docker-compose.ci.yml"
DEFAULT_PROJECT = "callbench"

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
    """``COMPOSE_FILE`` (os.pathsep-separated, as compose reads it), else what a bare
    ``docker-compose`` reads: the users' file and its override (published ports)."""
    listed = os.environ.get("COMPOSE_FILE")
    if listed:
        return [Path(item) for item in listed.split(os.pathsep) if item]
    return [COMPOSE_FILE] + ([USER_OVERRIDE] if USER_OVERRIDE.is_file() else [])


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
        self.state_dir = Path(state_dir)
        self.overrides = dict(overrides or {})
        self.files = [Path(f) for f in (files or default_files())]
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
        env = {**os.environ, **self._env}
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

    def kill(self, service: str, signal: str = "SIGKILL") -> None:
        """The crash drill's crash: the container dies at once, as a process would."""
        self.container(service).kill(signal=signal)

    def restart(self, service: str, *, wait: bool = True, timeout: float = 10.0) -> None:
        """Restart (or start a killed) container; wait for its health check when asked."""
        self.container(service).restart(timeout=int(timeout))
        if wait:
            self.wait_healthy([service])
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


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.stack.compose up|status|stats|down`` (what scripts/compose-ci.sh runs)."""
    parser = argparse.ArgumentParser(prog="python -m bench.stack.compose", description=__doc__)
    parser.add_argument("action", choices=["up", "status", "stats", "down"])
    parser.add_argument("--state-dir", type=Path, default=Path(".callbench"))
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="PART.KEY=V")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)

    def echo(line: str) -> None:
        print(f"compose: {line}", file=sys.stderr, flush=True)

    try:
        stack = ComposeStack(
            args.state_dir, overrides.parse_pairs(args.sets), timeout=args.timeout, echo=echo
        )
        if args.action == "up":
            print(stack.up().model_dump_json(indent=2))
        elif args.action == "status":
            results = stack.status()
            print(json.dumps([asdict(r) for r in results], indent=2))
            return 0 if results and all(r.healthy for r in results) else 3
        elif args.action == "stats":
            print(json.dumps([asdict(s) for s in stack.stats()], indent=2))
        else:
            stack.down()
    except StackError as exc:
        print(f"compose: error: {exc}", file=sys.stderr)
        return 3
    except overrides.OverridesError as exc:
        print(f"compose: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
