"""The Monitor: samples every source once per interval and appends each sample to
RUN_DIR/monitor.jsonl as it is taken (docs/monitor.md).

The runner drives it through the run's phases:

    await monitor.open(path, clock, sleep)  open the file and the sources
    await monitor.baseline()                 a few samples before load starts
    monitor.start_load(origin)               t=0 is now the run's t0 (the store's); sampling
                                             goes on in the background every interval
    await monitor.end_load()                 stop the background sampling
    await monitor.cooldown(cut_short)        sample until memory and DB connections are back
                                             to baseline or the cooldown ends
    monitor.evidence(load_end_t)             baseline / peak / recovery (evidence.py)
    await monitor.close()

Baseline samples are taken before t0 is known, so they are kept until `start_load` and written
then with negative `t` (seconds before load). A source that fails is recorded, never fatal:
backend sources failing give `backend_up: false`, which is the evidence of a crash.

In memory the monitor keeps a bounded history of its samples (history.py: the baseline, the
cooldown, the newest samples and the older ones thinned, what the live page charts); the
evidence at the end reads every sample, back from monitor.jsonl once the history let any go.

Each source is asked at most once at a time, as Prometheus scrapes a target: a tick that finds a
source still answering an earlier tick leaves it out of its sample (listed under `busy`) and asks
the others, so a backend slow to serve /metrics under load no longer stretches the cadence of the
process's CPU and memory, or of the database. Rows are still written in tick order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

import aiohttp

from generator.monitor.config import MonitorConfig
from generator.monitor.evidence import MonitorEvidence, read_samples
from generator.monitor.history import SampleHistory
from generator.monitor.process import DockerContainer, PsutilProcess
from generator.monitor.sources import (
    HealthSource,
    MemorySource,
    MetricsSource,
    PostgresSource,
    SourceDown,
)

GONE_SAMPLES = 3

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Source(Protocol):
    name: str
    role: str

    async def sample(self) -> dict[str, Any]: ...

    async def close(self) -> None: ...


# Later sources override earlier ones on a shared key: the process's own RSS is the most direct.
MERGE_ORDER = {"db": 0, "upstream": 1, "backend": 2, "process": 3}


def combine(results: Sequence[tuple[Source, dict[str, Any] | SourceDown]]) -> dict[str, Any]:
    """One flat sample from each source's answer (or failure)."""
    out: dict[str, Any] = {}
    down: list[str] = []
    backend_answers: list[bool] = []
    backend_timeouts = 0
    process_alive: bool | None = None
    ordered = sorted(results, key=lambda pair: MERGE_ORDER.get(pair[0].role, 9))
    for source, result in ordered:
        if isinstance(result, SourceDown):
            down.append(source.name)
            if source.role == "backend":
                backend_answers.append(False)
                backend_timeouts += result.timeout
            elif source.role == "db":
                out["db_up"] = False
            elif source.role == "upstream":
                out["upstream_up"] = False
            continue
        if source.role == "backend":
            backend_answers.append(True)
        elif source.role == "upstream":
            out["upstream_up"] = True
        if source.role == "process":
            process_alive = bool(result.get("process_alive"))
        out.update(result)
    if backend_answers or process_alive is not None:
        up = any(backend_answers) if backend_answers else True
        out["backend_up"] = up and process_alive is not False
        if not up and process_alive is not False and backend_timeouts == len(backend_answers):
            out["backend_unresponsive"] = True  # slow to answer, not refused: busy or hung
    if down:
        out["down"] = down
    return out


class Monitor:
    def __init__(self, config: MonitorConfig, sources: Sequence[Source] | None = None) -> None:
        self.config = config
        self._given = list(sources) if sources is not None else None
        self.sources: list[Source] = []
        # In memory: a bounded history (history.py); monitor.jsonl holds every sample.
        self.history = SampleHistory()
        self._path: Path | None = None
        self._pending: list[tuple[float, dict[str, Any]]] = []
        self._session: aiohttp.ClientSession | None = None
        self._file: IO[str] | None = None
        self._clock: Clock = time.monotonic
        self._sleep: Sleep = asyncio.sleep
        self._origin: float | None = None
        self._task: asyncio.Task[None] | None = None
        # The probe under way for each source (by index): a source is asked once at a time.
        self._probes: dict[int, asyncio.Task[dict[str, Any] | SourceDown]] = {}

    # -- set-up ----------------------------------------------------------------------------
    def _build_sources(self) -> list[Source]:
        c = self.config
        timeout = aiohttp.ClientTimeout(total=max(0.5, min(5.0, c.interval_s * 2)))
        self._session = aiohttp.ClientSession(timeout=timeout)
        s = self._session
        found: list[Source] = []
        if c.metrics_url:
            found.append(MetricsSource(s, c.metrics_url, "backend"))
        if c.health_url:
            found.append(HealthSource(s, c.health_url))
        if c.memory_url:
            found.append(MemorySource(s, c.memory_url))
        if c.upstream_metrics_url:
            found.append(MetricsSource(s, c.upstream_metrics_url, "upstream"))
        if c.db_dsn:
            found.append(PostgresSource(c.db_dsn, timeout_s=max(1.0, c.interval_s)))
        if c.pid is not None:
            found.append(PsutilProcess(c.pid))
        if c.container:
            found.append(DockerContainer(c.container))
        return found

    async def open(
        self, path: Path, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> None:
        self._clock, self._sleep = clock, sleep
        self.sources = self._given if self._given is not None else self._build_sources()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("w", encoding="utf-8")  # a re-used run dir starts afresh
        self._path = path

    async def close(self) -> None:
        await self.end_load()
        probes, self._probes = list(self._probes.values()), {}
        for probe in probes:
            probe.cancel()
        await asyncio.gather(*probes, return_exceptions=True)
        for source in self.sources:
            with contextlib.suppress(Exception):  # closing must not hide the run's results
                await source.close()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._file is not None:
            self._file.close()
            self._file = None

    # -- sampling --------------------------------------------------------------------------
    async def _probe(self, source: Source) -> dict[str, Any] | SourceDown:
        try:
            return await source.sample()
        except SourceDown as exc:
            return exc
        except Exception as exc:  # an unexpected failure of one source is still "down"
            return SourceDown(f"{source.name}: {exc!r}")

    def _launch(self) -> tuple[list[tuple[Source, asyncio.Task[Any]]], list[str]]:
        """Starts a probe of every source not still answering an earlier one."""
        started: list[tuple[Source, asyncio.Task[Any]]] = []
        busy: list[str] = []
        for index, source in enumerate(self.sources):
            probe = self._probes.get(index)
            if probe is not None and not probe.done():
                busy.append(source.name)
                continue
            probe = asyncio.create_task(self._probe(source))
            self._probes[index] = probe
            started.append((source, probe))
        return started, busy

    async def _take(
        self,
        at: float,
        phase: str,
        launched: tuple[list[tuple[Source, asyncio.Task[Any]]], list[str]],
        previous: asyncio.Task[Any] | None = None,
    ) -> dict[str, Any]:
        """Waits for the probes this tick started and records their sample, after the previous
        tick's (rows stay in time order). A tick that could start no probe records nothing."""
        started, busy = launched
        answers = await asyncio.gather(*(probe for _, probe in started))
        sources = [source for source, _ in started]
        sample = {"phase": phase, **combine(list(zip(sources, answers, strict=True)))}
        if busy:
            sample["busy"] = busy
        if previous is not None:
            await previous
        if not started:
            return sample
        if self._origin is None:
            self._pending.append((at, sample))
        else:
            self._record(at, sample)
        return sample

    async def sample(self, phase: str) -> dict[str, Any]:
        """Takes one sample now and records it (kept back until t0 is known)."""
        return await self._take(self._clock(), phase, self._launch())

    def _record(self, at: float, sample: dict[str, Any]) -> None:
        assert self._origin is not None
        row = {"t": round(at - self._origin, 3), **sample}
        if self._file is None:
            self.history.window = None  # nowhere else to read them back from: all kept
        self.history.append(row)
        if self._file is not None:
            self._file.write(json.dumps(row, separators=(",", ":")) + "\n")
            self._file.flush()

    async def _every(self, phase: str, until: Callable[[], bool]) -> None:
        """Samples at a fixed rate: each tick starts its probes on time, whatever earlier ticks
        are still waiting for (a tick late itself skips the ticks it missed)."""
        interval = self.config.interval_s
        start = self._clock()
        tick = 0
        ticks: list[asyncio.Task[dict[str, Any]]] = []
        try:
            while not until():
                at = self._clock()
                previous = ticks[-1] if ticks else None
                ticks = [t for t in ticks if not t.done()]
                ticks.append(asyncio.create_task(self._take(at, phase, self._launch(), previous)))
                tick = max(tick + 1, int((self._clock() - start) / interval) + 1)
                delay = start + tick * interval - self._clock()
                # Even a tick with no wait lets its probes run before the next looks for them.
                await self._sleep(max(delay, 0.0))
            if ticks:
                await ticks[-1]  # stopped by `until`: the samples under way still count
        finally:
            for task in ticks:
                task.cancel()  # cancelled or failed: no tick outlives its loop
            await asyncio.gather(*ticks, return_exceptions=True)

    async def baseline(self) -> None:
        for index in range(self.config.baseline_samples):
            if index:
                await self._sleep(self.config.interval_s)
            await self.sample("baseline")

    def start_load(self, origin: float) -> None:
        self._origin = origin
        for at, sample in self._pending:
            self._record(at, sample)
        self._pending.clear()
        self._task = asyncio.create_task(self._every("load", lambda: False))

    async def end_load(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def cooldown(self, cut_short: asyncio.Event | None = None) -> None:
        """Samples for up to cooldown_s (at least once), ending early once everything measured
        is back to baseline when `stop_when_recovered`, or when ``cut_short`` is set."""
        if self._origin is None:
            self.start_load(self._clock())
            await self.end_load()
        deadline = self._clock() + self.config.cooldown_s
        load_end = self._clock() - (self._origin or 0.0)
        cut = cut_short or asyncio.Event()

        def done() -> bool:
            if cut.is_set() or (self._cooldown_taken() and self._clock() >= deadline):
                return True
            return self.config.stop_when_recovered and self._recovered(load_end)

        waiter = asyncio.create_task(self._every("cooldown", done))
        stopper = asyncio.create_task(cut.wait())
        try:
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiter, stopper):
                task.cancel()
            await asyncio.gather(waiter, stopper, return_exceptions=True)

    @property
    def samples(self) -> list[dict[str, Any]]:
        """The samples held in memory, oldest first: every one of a short run; of a long one,
        the baseline, the older samples thinned, the newest as taken (history.py), what the
        live page charts. `evidence` reads every sample."""
        return list(self.history)

    def all_samples(self) -> list[dict[str, Any]]:
        """Every sample recorded: from memory while the history holds them all, else read back
        from monitor.jsonl (written and flushed as each was taken)."""
        if self.history.complete or self._path is None:
            return list(self.history)
        return read_samples(self._path)

    def _cooldown_taken(self) -> bool:
        return self.history.counts.get("cooldown", 0) > 0

    def _recovered(self, load_end: float) -> bool:
        cooldown = self.history.kept["cooldown"]
        if not cooldown:
            return False
        known = [s for s in cooldown if "backend_up" in s]  # not samples the backend sat out
        if len(known) >= GONE_SAMPLES and all(
            s["backend_up"] is False for s in known[-GONE_SAMPLES:]
        ):
            return True  # the backend is gone: there is nothing left to recover
        # Recovery reads the baseline and the cooldown only: both are kept whole (history.py).
        evidence = MonitorEvidence(
            tuple(self.history.kept["baseline"] + cooldown),
            load_end,
            memory_tolerance=self.config.memory_tolerance,
            db_tolerance=self.config.db_tolerance,
        )
        checks = [evidence.memory_recovery(), evidence.db_recovery()]
        measured = [r for r in checks if r.key is not None]
        return all(r.recovered for r in measured)

    def evidence(self, load_end_t: float | None = None) -> MonitorEvidence:
        """Baseline, peak and recovery over every sample of the run (`all_samples`)."""
        return MonitorEvidence(
            tuple(self.all_samples()),
            load_end_t,
            memory_tolerance=self.config.memory_tolerance,
            db_tolerance=self.config.db_tolerance,
        )
