"""Percentiles of plain lists the way the generator's HDR histograms read them: by nearest rank
(the ceil(q × n)-th smallest), so p99 of 100 values is the 99th, not their maximum."""

from __future__ import annotations

import math
from collections.abc import Iterable


def nearest_rank(values: Iterable[float], q: float) -> float:
    """The value at quantile ``q`` (0 < q <= 1) of ``values``, by nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]
