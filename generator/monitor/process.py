"""The target's process: CPU and resident memory, and whether it is still there.

`ProcessSource` is what the monitor needs; `PsutilProcess` reads a local PID (the bench's backend,
or `--pid` on this machine), `DockerContainer` reads a container's stats through the Docker SDK
(the compose runtime). A process that is gone, or whose PID now belongs to a newer process (a
restart that reused the number), answers `process_alive: false` — evidence of a crash.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from typing import Any, Protocol

import psutil

from generator.monitor.sources import SourceDown


class ProcessSource(Protocol):
    """Samples `process_alive`, `pid`, `cpu_percent` (of one core) and `rss_bytes`."""

    name: str
    role: str

    async def sample(self) -> dict[str, Any]: ...

    async def close(self) -> None: ...


# CPU time moves in clock ticks (10 ms): over a window of a few ms one tick reads as 100 %+.
# A reading needs at least this long a window; a shorter one is skipped and the window grows.
MIN_CPU_WINDOW_S = 0.5


class PsutilProcess:
    """A local process by PID. CPU is the share of one core used since the previous reading,
    from the process's CPU times; readings start at the second sample, and samples that come
    less than MIN_CPU_WINDOW_S after the previous reading report no CPU."""

    role = "process"

    def __init__(self, pid: int) -> None:
        self.name = f"pid {pid}"
        self.pid = pid
        self._process: psutil.Process | None = None
        self._created: float | None = None
        self._cpu_ref: tuple[float, float] | None = None

    def _cpu(self, process: psutil.Process) -> float | None:
        now = time.monotonic()
        times = process.cpu_times()
        used = times.user + times.system
        if self._cpu_ref is None:
            self._cpu_ref = (now, used)
            return None
        then, used_then = self._cpu_ref
        if now - then < MIN_CPU_WINDOW_S:
            return None
        self._cpu_ref = (now, used)
        return (used - used_then) / (now - then) * 100.0

    def _read(self) -> dict[str, Any]:
        if self._process is None:
            try:
                self._process = psutil.Process(self.pid)
                self._created = self._process.create_time()
            except psutil.Error:
                return {"process_alive": False, "pid": self.pid}
        process = self._process
        try:
            if process.create_time() != self._created or not process.is_running():
                return {"process_alive": False, "pid": self.pid}
            with process.oneshot():
                cpu = self._cpu(process)
                rss = process.memory_info().rss
            if process.status() == psutil.STATUS_ZOMBIE:
                return {"process_alive": False, "pid": self.pid}
        except psutil.Error:
            return {"process_alive": False, "pid": self.pid}
        sample: dict[str, Any] = {"process_alive": True, "pid": self.pid, "rss_bytes": rss}
        if cpu is not None:
            sample["cpu_percent"] = cpu
        return sample

    async def sample(self) -> dict[str, Any]:
        return self._read()

    async def close(self) -> None:
        self._process = None


def cpu_percent_from_stats(stats: dict[str, Any]) -> float | None:
    """Docker's formula (as `docker stats` computes it), in percent of one core."""
    try:
        cpu, pre = stats["cpu_stats"], stats["precpu_stats"]
        used = cpu["cpu_usage"]["total_usage"] - pre["cpu_usage"]["total_usage"]
        system = cpu["system_cpu_usage"] - pre.get("system_cpu_usage", 0)
        cores = cpu.get("online_cpus") or len(cpu["cpu_usage"].get("percpu_usage") or [1])
    except (KeyError, TypeError):
        return None
    if system <= 0 or used < 0:
        return None
    return round(float(used) / float(system) * float(cores) * 100.0, 1)


def memory_from_stats(stats: dict[str, Any]) -> int | None:
    """The container's resident memory: cgroup v1's `rss`, else usage less the page cache
    (`docker stats`' arithmetic) - the raw usage counts files the process only read."""
    memory = stats.get("memory_stats") or {}
    detail = memory.get("stats") or {}
    if isinstance(detail.get("rss"), int):
        return int(detail["rss"])
    usage = memory.get("usage")
    if not isinstance(usage, int | float):
        return None
    cache = detail.get("inactive_file", detail.get("total_inactive_file", 0))
    return int(usage - (cache if isinstance(cache, int | float) else 0))


class DockerContainer:
    """A container by name through the Docker SDK (`docker.from_env()`, so $DOCKER_HOST). The SDK
    is blocking, so each read runs in a thread. Stats are read one-shot: a plain read makes the
    engine wait a second for its own CPU window, which would stall every other source of the
    sample; CPU is instead the share of one core between two of our readings (at least
    MIN_CPU_WINDOW_S apart, as for a PID). A restarted container (new start time) counts as not
    alive for the sample that notices it, like a recycled PID."""

    role = "process"

    def __init__(self, container: str) -> None:
        self.name = f"container {container}"
        self.container = container
        self._client: Any = None
        self._started_at: str | None = None
        self._cpu_ref: tuple[float, int, int] | None = None  # (when, container ns, system ns)

    def _cpu(self, stats: dict[str, Any]) -> float | None:
        try:
            cpu = stats["cpu_stats"]
            used, system = int(cpu["cpu_usage"]["total_usage"]), int(cpu["system_cpu_usage"])
            cores = cpu.get("online_cpus") or len(cpu["cpu_usage"].get("percpu_usage") or [1])
        except (KeyError, TypeError, ValueError):
            return None
        now = time.monotonic()
        ref, self._cpu_ref = self._cpu_ref, (now, used, system)
        if ref is None:
            return None
        then, used_then, system_then = ref
        if now - then < MIN_CPU_WINDOW_S:
            self._cpu_ref = ref  # let the window grow
            return None
        if system <= system_then or used < used_then:
            return None
        return round((used - used_then) / (system - system_then) * cores * 100.0, 1)

    def _read(self) -> dict[str, Any]:
        try:
            if self._client is None:
                self._client = importlib.import_module("docker").from_env()
            found = self._client.containers.get(self.container)
            found.reload()
            state = found.attrs.get("State", {})
            if not state.get("Running", False):
                return {"process_alive": False}
            started = state.get("StartedAt")
            restarted = self._started_at is not None and started != self._started_at
            self._started_at = started
            if restarted:
                self._cpu_ref = None
                return {"process_alive": False, "pid": state.get("Pid")}
            stats = found.stats(stream=False, one_shot=True)
        except Exception as exc:  # docker.errors.* and connection errors alike
            raise SourceDown(f"{self.name}: {exc}") from None
        out: dict[str, Any] = {"process_alive": True, "pid": state.get("Pid")}
        cpu = self._cpu(stats)
        if cpu is not None:
            out["cpu_percent"] = cpu
        memory = memory_from_stats(stats)
        if memory is not None:
            out["rss_bytes"] = memory
        return out

    async def sample(self) -> dict[str, Any]:
        return await asyncio.to_thread(self._read)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(client.close)
