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


class DockerContainer:
    """A container by name through the Docker SDK (`docker.from_env()`); the SDK is blocking, so
    each read runs in a thread. A restarted container (new start time) counts as not alive for
    the sample that notices it, like a recycled PID."""

    role = "process"

    def __init__(self, container: str) -> None:
        self.name = f"container {container}"
        self.container = container
        self._client: Any = None
        self._started_at: str | None = None

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
                return {"process_alive": False, "pid": state.get("Pid")}
            stats = found.stats(stream=False)
        except Exception as exc:  # docker.errors.* and connection errors alike
            raise SourceDown(f"{self.name}: {exc}") from None
        out: dict[str, Any] = {"process_alive": True, "pid": state.get("Pid")}
        cpu = cpu_percent_from_stats(stats)
        if cpu is not None:
            out["cpu_percent"] = cpu
        memory = stats.get("memory_stats", {}).get("usage")
        if isinstance(memory, int | float):
            out["rss_bytes"] = int(memory)
        return out

    async def sample(self) -> dict[str, Any]:
        return await asyncio.to_thread(self._read)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(client.close)
