"""Baseline, peak and recovery: what the monitor's samples say, computed once for the summary,
the verdict and the diagnosis rules (pure; the same from a live run or from monitor.jsonl).

- baseline: the median of each numeric key over the `baseline` samples (taken before load);
- peak: the highest value of each numeric key over the `load` samples;
- final: the last sample's numeric values;
- recovery: after load ends, the first `cooldown` sample at which memory (`rss_bytes`) is back
  within `memory_tolerance` (20 %) of its baseline, and DB connections (`pg_total`, else
  `pool_size`) within `db_tolerance` (±1) of theirs; `recovered` is None when not measured.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PHASES = ("baseline", "load", "cooldown")
BOOLEAN_KEYS = ("backend_up", "process_alive", "db_up", "upstream_up")


def numeric(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@dataclass(frozen=True)
class Recovery:
    key: str | None  # the sample key measured (None: no data)
    baseline: float | None = None
    final: float | None = None
    recovered: bool | None = None  # None: not measured (no baseline or no cooldown samples)
    after_s: float | None = None  # seconds from the end of load to the first recovered sample
    growth_pct: float | None = None  # final against baseline, in percent

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "baseline": self.baseline,
            "final": self.final,
            "recovered": self.recovered,
            "after_s": self.after_s,
            "growth_pct": self.growth_pct,
        }


@dataclass(frozen=True)
class MonitorEvidence:
    samples: tuple[dict[str, Any], ...] = ()
    load_end_t: float | None = None  # seconds since t0 at which load ended (None: unknown)
    memory_tolerance: float = 0.2
    db_tolerance: int = 1
    baseline: dict[str, float] = field(init=False)
    peak: dict[str, float] = field(init=False)
    final: dict[str, float] = field(init=False)

    def __post_init__(self) -> None:
        base = {
            key: statistics.median(values)
            for key, values in self._by_key(self.phase("baseline")).items()
        }
        peak = {key: max(values) for key, values in self._by_key(self.phase("load")).items()}
        last = self.samples[-1] if self.samples else {}
        final = {k: v for k, v in ((k, numeric(v)) for k, v in last.items()) if v is not None}
        final.pop("t", None)
        object.__setattr__(self, "baseline", base)
        object.__setattr__(self, "peak", peak)
        object.__setattr__(self, "final", final)

    @staticmethod
    def _by_key(samples: Iterable[dict[str, Any]]) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for sample in samples:
            for key, value in sample.items():
                number = numeric(value)
                if key != "t" and number is not None:
                    out.setdefault(key, []).append(number)
        return out

    @property
    def available(self) -> bool:
        return bool(self.samples)

    def phase(self, *names: str) -> list[dict[str, Any]]:
        return [s for s in self.samples if s.get("phase") in names]

    def values(self, key: str, *phases: str) -> list[float]:
        """The key's numeric values over the given phases (all phases when none given)."""
        chosen = self.phase(*phases) if phases else list(self.samples)
        return [v for v in (numeric(s.get(key)) for s in chosen) if v is not None]

    def has(self, key: str) -> bool:
        return any(key in s for s in self.samples)

    def increase(self, key: str) -> float:
        """How much a counter grew over the samples; a drop (the target restarted and its
        counters began again) counts the new value as growth."""
        total, previous = 0.0, None
        for value in self.values(key):
            if previous is not None:
                total += value - previous if value >= previous else value
            previous = value
        return total

    def count_false(self, key: str, *phases: str) -> int:
        chosen = self.phase(*phases) if phases else list(self.samples)
        return sum(1 for s in chosen if s.get(key) is False)

    def _load_end(self) -> float | None:
        if self.load_end_t is not None:
            return self.load_end_t
        cooldown = self.phase("cooldown")
        return float(cooldown[0]["t"]) if cooldown else None

    def _recovery(self, key: str | None, close_enough: Any) -> Recovery:
        if key is None or key not in self.baseline:
            return Recovery(key)
        base = self.baseline[key]
        cooldown = [(float(s["t"]), numeric(s.get(key))) for s in self.phase("cooldown")]
        measured = [(t, v) for t, v in cooldown if v is not None]
        if not measured:
            return Recovery(key, base)
        final = measured[-1][1]
        growth = round((final - base) / base * 100.0, 2) if base > 0 else None
        end = self._load_end() or measured[0][0]
        for t, value in measured:
            if close_enough(base, value):
                return Recovery(key, base, final, True, round(max(0.0, t - end), 3), growth)
        return Recovery(key, base, final, False, None, growth)

    def memory_recovery(self) -> Recovery:
        tolerance = self.memory_tolerance
        return self._recovery(
            "rss_bytes" if "rss_bytes" in self.baseline else None,
            lambda base, value: value <= base * (1.0 + tolerance),
        )

    def db_recovery(self) -> Recovery:
        key = next((k for k in ("pg_total", "pool_size") if k in self.baseline), None)
        tolerance = self.db_tolerance
        return self._recovery(key, lambda base, value: abs(value - base) <= tolerance)

    def as_summary(self) -> dict[str, Any]:
        """The summary's `monitor` section (docs/summary-schema.md)."""
        return {
            "available": self.available,
            "samples": {p: len(self.phase(p)) for p in PHASES},
            "load_end_t": self._load_end(),
            "baseline": _rounded(self.baseline),
            "peak": _rounded(self.peak),
            "final": _rounded(self.final),
            "backend_down_samples": self.count_false("backend_up"),
            "recovery": {
                "memory": self.memory_recovery().as_dict(),
                "db_connections": self.db_recovery().as_dict(),
            },
        }


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 3) for k, v in sorted(values.items())}


def read_samples(path: Path) -> list[dict[str, Any]]:
    """monitor.jsonl's samples, skipping lines that do not parse (a run killed mid-write)."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            sample = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(sample, dict) and numeric(sample.get("t")) is not None:
            out.append(sample)
    return out


def evidence_from_samples(
    samples: Sequence[dict[str, Any]], load_end_t: float | None = None, **tolerances: Any
) -> MonitorEvidence:
    return MonitorEvidence(tuple(samples), load_end_t, **tolerances)
