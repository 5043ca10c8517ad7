"""events.jsonl: every observation of a run, written as the run goes (opt-in: `--raw-events`).

The store's own results are its snapshots (snapshots.py); this raw log is for whoever wants each
observation. A path ending in `.gz` is written and read gzip-compressed (as k6's
`--out json=file.gz`).

One JSON object per line. The first line is the header, the rest are observations, the last (when
the run ended normally) is the end mark:

    {"k":"start","format":1,"wall":1732260000.123}
    {"k":"t","n":"turn_latency","g":{"protocol":"native"},"t":1.234,"v":812.5}
    {"k":"c","n":"errors_total","g":{"kind":"refused"},"t":1.24,"v":1}
    {"k":"r","n":"call_success","g":{},"t":1.25,"v":1}      (v: 1 pass, 0 fail)
    {"k":"g","n":"vus","g":{"workload":"calls"},"t":2.0,"v":10.0}
    {"k":"end","t":20.5}

``t`` is seconds since the store started. An observation line is a prefix fixed per kind, metric
and tag set, encoded once, followed by ``t`` and ``v``: the writer runs for every value the run
records, and a `json.dumps` of a dict each time cost more than the rest of the recording.
Lines are buffered and flushed at least once a second (and at the end), so a killed run loses at
most its last second; a torn last line is skipped.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, cast

FORMAT_VERSION = 1


class EventSink:
    """Appends events to a JSONL file, flushing at least every ``flush_interval_s``."""

    def __init__(
        self,
        path: Path,
        clock: Callable[[], float] = time.monotonic,
        flush_interval_s: float = 1.0,
    ) -> None:
        self.path = path
        self._clock = clock
        self._interval = flush_interval_s
        self._buffer: list[str] = []
        # "w": a run directory given again starts afresh rather than mixing in the old run.
        self._file: IO[str] | None = open_events(path, "w")
        self._last_flush = clock()

    def write(self, event: dict[str, Any]) -> None:
        self._buffer.append(json.dumps(event, separators=(",", ":")))
        if self._clock() - self._last_flush >= self._interval:
            self.flush()

    def write_observation(self, prefix: str, t: float, value: float) -> None:
        """One observation line from its ``event_prefix`` (``t`` already rounded)."""
        if value - value != 0:  # NaN or ±inf: not JSON numbers; json.dumps spells them
            self._buffer.append(f'{prefix}{t!r},"v":{json.dumps(value)}}}')
        else:
            self._buffer.append(f'{prefix}{t!r},"v":{value!r}}}')
        if self._clock() - self._last_flush >= self._interval:
            self.flush()

    def write_line(self, line: str) -> None:
        """One line as it is (an observation line copied from another events.jsonl)."""
        self._buffer.append(line)
        if self._clock() - self._last_flush >= self._interval:
            self.flush()

    def flush(self) -> None:
        self._last_flush = self._clock()
        if self._file is None or not self._buffer:
            return
        self._file.write("\n".join(self._buffer) + "\n")
        self._file.flush()
        self._buffer.clear()

    def close(self) -> None:
        self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None


def event_prefix(kind: str, name: str, tags: Iterable[tuple[str, str]]) -> str:
    """The fixed start of an observation line: kind, metric and tags, up to the ``t`` value."""
    head = json.dumps({"k": kind, "n": name, "g": dict(tags)}, separators=(",", ":"))
    return head[:-1] + ',"t":'


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    """The events of a file, skipping lines that do not parse (a run killed mid-write)."""
    parse = EventParser().parse
    with open_events(path, "r") as handle:
        try:
            for line in handle:
                event = parse(line)
                if event is not None:
                    yield event
        except (EOFError, gzip.BadGzipFile):  # a gzip stream cut off by a killed run
            return


def open_events(path: Path, mode: str) -> IO[str]:
    """An events file opened as text, through gzip when its name ends in .gz."""
    if path.name.endswith(".gz"):
        # compresslevel 6: gzip's default speed/size balance; level 9 costs the hot path more.
        return cast(IO[str], gzip.open(path, mode + "t", encoding="utf-8", compresslevel=6))
    return path.open(mode, encoding="utf-8")


_UNSEEN = object()
OBSERVATION_KINDS = frozenset("tcrg")


class EventParser:
    """Parses events.jsonl lines. An observation line is its metric's fixed prefix plus `t` and
    `v` (see `event_prefix`), so each prefix is decoded once and later lines only split off two
    numbers: merging workers or re-rendering a run reads millions of lines, and `json.loads`
    of each was most of the time. Any other line goes through `json.loads`. The events of one
    prefix share one tags dict: readers must not change it."""

    def __init__(self) -> None:
        self._heads: dict[str, Any] = {}

    def parse(self, line: str) -> dict[str, Any] | None:
        line = line.strip()
        cut = line.rfind(',"t":')  # the last one: a tag named "t" sits earlier, in the prefix
        if cut > 0 and line.endswith("}"):
            prefix = line[:cut]
            head = self._heads.get(prefix, _UNSEEN)
            if head is _UNSEEN:
                head = self._heads[prefix] = _observation_head(prefix)
            if head is not None:
                rest = line[cut + 5 : -1]
                v_at = rest.find(',"v":')
                if v_at > 0:
                    try:
                        t, v = float(rest[:v_at]), float(rest[v_at + 5 :])
                    except ValueError:
                        pass
                    else:
                        kind, name, tags = head
                        return {"k": kind, "n": name, "g": tags, "t": t, "v": v}
        if not line:
            return None
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            return None
        return event if isinstance(event, dict) else None


def _observation_head(prefix: str) -> tuple[str, str, dict[str, str]] | None:
    """(kind, metric, tags) when ``prefix`` is exactly an observation line's fixed start."""
    try:
        head = json.loads(prefix + "}")
    except json.JSONDecodeError:
        return None
    if not isinstance(head, dict) or list(head) != ["k", "n", "g"]:
        return None
    kind, name, tags = head["k"], head["n"], head["g"]
    if kind not in OBSERVATION_KINDS or not isinstance(name, str) or not isinstance(tags, dict):
        return None
    if not all(isinstance(v, str) for v in tags.values()):
        return None
    return kind, name, tags
