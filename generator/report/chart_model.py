"""The charts' data as reporters draw them (report.html with Matplotlib, the live page in its
browser): `Chart`s of `Line`s, and the flat series labels of the store's rows read back.
Nothing here computes a figure; html_series.py and html_data.py build these from a run.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

MID = 0.5  # per-second figures are drawn at the middle of their second


@dataclass(frozen=True)
class Line:
    """One line (or one stacked bar series): ``widths`` are the seconds each point covers when
    the rows were thinned (thinning.py; empty: one second each)."""

    label: str
    xs: tuple[float, ...]
    ys: tuple[float, ...]
    widths: tuple[float, ...] = ()


@dataclass(frozen=True)
class Chart:
    """One chart's data. ``stacked`` draws bars per second stacked by line (counts per kind)."""

    title: str
    ylabel: str
    lines: tuple[Line, ...] = ()
    kind: Literal["line", "stacked"] = "line"
    refs: tuple[tuple[str, float], ...] = ()  # horizontal reference lines (label, y)
    band: tuple[float, float] | None = None  # shaded y range (e.g. baseline..baseline+20 %)
    spans: tuple[tuple[float, float, str], ...] = ()  # shaded x ranges (monitor phases)
    empty_note: str = "no data recorded for this chart"
    note: str = ""  # how to read the chart's points when they were thinned (thinning.py)

    def has_data(self) -> bool:
        return any(line.ys for line in self.lines)

    def y_top(self) -> float:
        """Highest value the chart shows, so a comparison can share one y scale."""
        tops = [0.0] + [y for _, y in self.refs] + ([self.band[1]] if self.band else [])
        if self.kind == "stacked":
            per_x: dict[float, float] = defaultdict(float)
            for line in self.lines:
                for x, y in zip(line.xs, line.ys, strict=True):
                    per_x[x] += y
            tops.extend(per_x.values())
        else:
            tops.extend(y for line in self.lines for y in line.ys if math.isfinite(y))
        return max(tops)


# -- label helpers ------------------------------------------------------------------------------
def split_label(flat: str) -> tuple[str, dict[str, str]]:
    """Inverse of series.label: `name{k=v,...}` → (name, tags)."""
    name, _, rest = flat.partition("{")
    tags = dict(p.split("=", 1) for p in rest.rstrip("}").split(",") if "=" in p)
    return name, tags
