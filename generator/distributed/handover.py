"""Workers hand their snapshots to the parent over a pipe, as they write them.

Each `--workers` child's SnapshotWriter (generator/metrics/snapshots.py) has a tee: every flush
— once a second and at the end — sends the text it wrote, the interval log's lines and the
metrics.jsonl lines that commit them, as one message on the child's end of a one-way pipe
(`SnapshotSender`). The parent reads every child's pipe as messages come (`Handover`), parses
them as a reader of the files would (combine.SnapshotStream) and combines the committed folds
into one store, which is written into the parent's run directory as its own snapshots as it
goes. The progress line and the abortOnFail thresholds read that store; at the end it is the
merged run's, so nothing is read again after the load: the time after it grows with seconds ×
series, not with the request count.

The combined timeline starts with the earliest child's store: each child's first message is its
header, with the wall-clock instant its store started, so the parent starts combining once every
child still running has sent it (align.py's whole-second offsets, as a merge of files uses).

The store is changed only while holding ``Handover.lock``: the live dashboard of a workers run
reads it from a thread of its own (generator/report/dashboard_thread.py) under the same lock.
"""

from __future__ import annotations

import contextlib
import threading
import time
from multiprocessing.connection import Connection, wait
from pathlib import Path

from generator.distributed.tail import SLICE_TAG
from generator.metrics.combine import Combiner, SnapshotStream, Source, TrendPart
from generator.metrics.snapshots import Fold, SnapshotWriter
from generator.metrics.store import MetricsStore, frozen_clock

DRAIN_S = 10.0  # how long the parent waits for a pipe's end once its child has exited
_SEP = "\x00"  # between a message's interval-log text and its metrics.jsonl text: in neither


def pack(hlog_text: str, jsonl_text: str) -> bytes:
    return (hlog_text + _SEP + jsonl_text).encode("utf-8")


def unpack(message: bytes) -> tuple[str, str]:
    hlog_text, _, jsonl_text = message.decode("utf-8").partition(_SEP)
    return hlog_text, jsonl_text


class SnapshotSender:
    """A child's tee: sends each flush to the parent. A parent gone (a broken pipe) is no
    reason to stop the run: its files still hold every snapshot."""

    def __init__(self, connection: Connection) -> None:
        self._connection: Connection | None = connection

    def __call__(self, hlog_text: str, jsonl_text: str) -> None:
        if self._connection is None:
            return
        try:
            self._connection.send_bytes(pack(hlog_text, jsonl_text))
        except OSError:  # BrokenPipeError among them
            self._connection = None


class Handover:
    """The parent's end: every child's pipe, read as messages arrive, combined into ``store``
    and written into ``out_dir``."""

    def __init__(self, readers: list[Connection], out_dir: Path) -> None:
        self.readers = readers
        self.out_dir = out_dir
        self._open = set(range(len(readers)))
        self._streams = [SnapshotStream() for _ in readers]
        self._held: list[list[tuple[Fold, list[TrendPart]]]] = [[] for _ in readers]
        self._combiner: Combiner | None = None
        self._sources: dict[int, Source] = {}
        self._empty = MetricsStore(clock=frozen_clock)
        self.lock = threading.Lock()  # held while the store changes (see the module docstring)

    @property
    def store(self) -> MetricsStore:
        """The combined figures so far (empty until every child has started)."""
        return self._empty if self._combiner is None else self._combiner.store

    @property
    def started(self) -> bool:
        """Whether combining has begun (every running child has sent its header)."""
        return self._combiner is not None

    def waitables(self) -> list[Connection]:
        """The pipes still open: wait on them with the children's sentinels."""
        return [self.readers[i] for i in sorted(self._open)]

    def poll(self) -> None:
        """Reads every message waiting on any pipe."""
        for index in sorted(self._open):
            reader = self.readers[index]
            try:
                while reader.poll():
                    message = unpack(reader.recv_bytes())
                    with self.lock:
                        self._take(index, message)
            except (EOFError, OSError):  # the child exited (or closed its end)
                self._open.discard(index)
                reader.close()
        with self.lock:
            self._start_when_ready()
        if self._combiner is not None:
            self._combiner.flush()

    def drain(self, timeout_s: float = DRAIN_S) -> None:
        """Reads everything left, to each pipe's end (the children have exited; a pipe that
        stays open longer than ``timeout_s`` is given up)."""
        deadline = time.monotonic() + timeout_s
        while self._open and time.monotonic() < deadline:
            wait(self.waitables(), timeout=max(0.0, deadline - time.monotonic()))
            self.poll()
        self._open.clear()

    def _take(self, index: int, texts: tuple[str, str]) -> None:
        folds = self._streams[index].feed(*texts)
        source = self._sources.get(index)
        if self._combiner is None or source is None:
            self._held[index].extend(folds)
            return
        for fold, parts in folds:
            self._combiner.add(source, fold, parts)

    def _start_when_ready(self) -> None:
        if self._combiner is not None:
            return
        walls = {i: s.wall_start for i, s in enumerate(self._streams) if s.wall_start is not None}
        if any(i not in walls for i in self._open) or not walls:
            if not self._open and not walls:  # every child gone without a word
                self._combiner = Combiner(wall_start=None)
            return
        base = min(walls.values())
        self._combiner = Combiner(SnapshotWriter(self.out_dir, wall_start=base))
        for index in sorted(walls):
            shift = round(walls[index] - base)
            source = self._sources[index] = self._combiner.source(shift, {SLICE_TAG: str(index)})
            for fold, parts in self._held[index]:
                self._combiner.add(source, fold, parts)
            self._held[index] = []

    def ends(self, indices: list[int]) -> list[float | None]:
        """Each listed child's end on the combined timeline (None: it was cut short)."""
        return [None if (s := self._sources.get(i)) is None else s.ended_at for i in indices]

    def finish(self) -> MetricsStore:
        """The end of the combined run, written; returns its store."""
        self.drain()
        with self.lock:
            self._start_when_ready()
            assert self._combiner is not None
            self._combiner.finish()
        self._combiner.close()
        return self._combiner.store

    def close(self) -> None:
        for reader in self.readers:
            with contextlib.suppress(OSError):
                reader.close()
        if self._combiner is not None:
            self._combiner.close()
