"""The monitor's samples of a run in bounded memory (Monitor.history; docs/monitor.md).

Every sample is written to RUN_DIR/monitor.jsonl as it is taken; in memory the monitor keeps

- every `baseline` sample (a few, taken before load) and every `cooldown` sample (at most the
  configured cooldown's worth), which the recovery check reads while the cooldown goes;
- the newest `window` samples as they are, and the older ones thinned for the live charts: at
  most `ladder_rows` of them, adjacent samples of one phase merged pairwise whenever there would
  be more (each older point then covers 2, 4, 8 ... samples). A merged sample holds, for each
  numeric figure, the highest of its samples' (RSS, CPU, connections, waiters: the peak it
  covers), except a cumulative counter (`..._total`), which holds the last (so the rate drawn
  between two points is the mean over them); its `t`, phase and other fields are its last
  sample's, and `samples` says how many it covers.

Whatever needs every sample at the end (the evidence, the summary's monitor section, the
diagnosis rules) reads monitor.jsonl back once the history has let any go (`complete`); a
monitor with no file keeps every sample.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

Sample = dict[str, Any]
WINDOW = 240  # the newest samples kept as they are (the live page's last four minutes at 1 s)
LADDER_ROWS = 300  # the older samples, thinned: the live page draws at most 600 points a line
KEPT_PHASES = ("baseline", "cooldown")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def merge_samples(a: Sample, b: Sample) -> Sample:
    """One sample standing for ``a`` and then ``b`` (module docstring)."""
    merged = {**a, **b}
    for key, value in a.items():
        if key != "t" and not key.endswith("_total") and _number(value):
            later = b.get(key)
            merged[key] = max(value, later) if _number(later) else value
    merged["samples"] = int(a.get("samples", 1)) + int(b.get("samples", 1))
    return merged


class SampleHistory:
    """The samples kept in memory (module docstring), oldest first when iterated."""

    def __init__(self, window: int | None = WINDOW, ladder_rows: int = LADDER_ROWS) -> None:
        self.window = window  # None: every sample is kept as it is
        self.ladder_rows = ladder_rows
        self.width = 1  # samples per thinned point (the newest one may cover fewer)
        self.counts: dict[str, int] = {}
        self.kept: dict[str, list[Sample]] = {phase: [] for phase in KEPT_PHASES}
        self._ladder: list[Sample] = []
        self._recent: deque[Sample] = deque()

    @property
    def complete(self) -> bool:
        """Whether the history still holds every sample as it was taken."""
        return not self._ladder

    def append(self, sample: Sample) -> None:
        phase = str(sample.get("phase", ""))
        self.counts[phase] = self.counts.get(phase, 0) + 1
        if phase in self.kept:
            self.kept[phase].append(sample)
        self._recent.append(sample)
        if self.window is not None and len(self._recent) > self.window:
            older = self._recent.popleft()
            if older.get("phase") != "baseline":  # baseline samples stay in `kept`
                self._thin(older)

    def _thin(self, sample: Sample) -> None:
        ladder = self._ladder
        last = ladder[-1] if ladder else None
        if (
            last is not None
            and int(last.get("samples", 1)) < self.width
            and last.get("phase") == sample.get("phase")
        ):
            ladder[-1] = merge_samples(last, sample)
        else:
            ladder.append(sample)
        if len(ladder) > self.ladder_rows:
            self.width *= 2
            pairs: list[Sample] = []
            for item in ladder:
                prior = pairs[-1] if pairs else None
                if (
                    prior is not None
                    and prior.get("phase") == item.get("phase")
                    and int(prior.get("samples", 1)) + int(item.get("samples", 1)) <= self.width
                ):
                    pairs[-1] = merge_samples(prior, item)
                else:
                    pairs.append(item)
            self._ladder = pairs

    def __iter__(self) -> Iterator[Sample]:
        """What the live charts draw: the baseline let go of the window, the thinned older
        samples, then the newest ones. Taken from copies, each made by one C-level call (no
        other thread runs meanwhile): a `--workers` run's page reads the history from its own
        thread while the parent's monitor thread appends (a sample moving on between two copies
        shows twice, never breaks the read)."""
        recent = list(self._recent)
        ladder = list(self._ladder)
        baseline = list(self.kept["baseline"])
        held = sum(1 for s in recent if s.get("phase") == "baseline")
        yield from baseline[: len(baseline) - held]
        yield from ladder
        yield from recent

    def __len__(self) -> int:
        return sum(1 for _ in self)


def thin_samples(samples: Iterable[Sample], max_points: int) -> list[Sample]:
    """``samples`` as they are when there are at most ``max_points``, else the baseline ones
    and the others thinned to at most ``max_points`` (as the history thins its older ones)."""
    samples = list(samples)
    if len(samples) <= max_points:
        return samples
    history = SampleHistory(window=0, ladder_rows=max_points)
    for sample in samples:
        history.append(sample)
    return list(history)
