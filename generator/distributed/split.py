"""Slicing a scenario into N shares, one per worker process or shard.

Integers (VUs, iterations, VU caps, stage targets) are divided with the remainder going to the
first slices, so the slices add up to the original exactly: 10 VUs over 3 slices are 4, 3, 3.
Arrival-rate models are not divided at all: each slice walks the whole schedule and starts
every N-th arrival (numbered as in the whole run), so the slices' arrivals are exactly the
single-process schedule. A slice whose share of a workload is nothing (1 VU over 2 slices)
drops that workload; a slice left with no workload at all is None.

Exact where the model allows it: constant-vus, shared-iterations and the two arrival-rate
models add up exactly (arrival models keep at least one pre-allocated VU per slice, so their VU
caps add up exactly only when there are at least N of them); ramping-vus targets add up exactly
at every stage boundary, and between boundaries each slice floors its own interpolation, so the
sum may lag the single-process ramp by up to N-1 VUs mid-stage.

Each slice gets its own seed (``slice_seed``), a pure function of the scenario's seed and the
slice, so the same run split the same way is reproducible; slice 0 of 1 keeps the seed as is.
"""

from __future__ import annotations

import random
from typing import Any

from generator.errors import InvalidInput
from generator.load.config import LoadConfig, parse_load
from generator.scenario import Scenario


def share(total: int, index: int, count: int) -> int:
    """Slice ``index``'s part of ``total`` (remainder to the first slices)."""
    return total // count + (1 if index < total % count else 0)


def slice_seed(seed: int, index: int, count: int) -> int:
    if count == 1:
        return seed
    return random.Random(f"{seed}/slice/{index}/{count}").getrandbits(31)


def parse_slice(text: str, flag: str = "--shard") -> tuple[int, int]:
    """`I/N` (0-based I) → (I, N)."""
    index_s, sep, count_s = text.partition("/")
    try:
        index, count = int(index_s), int(count_s)
    except ValueError:
        raise InvalidInput(flag, [f"{text!r} is not I/N (e.g. 0/4)"]) from None
    if not sep or count < 1 or not 0 <= index < count:
        raise InvalidInput(flag, [f"{text!r}: need N >= 1 and 0 <= I < N"])
    return index, count


def _vu_caps(data: dict[str, Any], index: int, count: int) -> None:
    pre = max(1, share(int(data["preAllocatedVUs"]), index, count))
    data["preAllocatedVUs"] = pre
    if data.get("maxVUs") is not None:
        data["maxVUs"] = max(pre, share(int(data["maxVUs"]), index, count))


def split_load(load: LoadConfig, index: int, count: int) -> LoadConfig | None:
    """Slice ``index`` of ``count`` of one load model; None when the slice gets no work."""
    if count == 1:
        return load
    data = load.model_dump(mode="json")
    kind = data["executor"]
    if kind == "constant-vus":
        data["vus"] = share(int(data["vus"]), index, count)
        if data["vus"] == 0:
            return None
    elif kind == "shared-iterations":
        # Only slices that get a VU get iterations, else a slice would hold work it cannot do.
        active = min(count, int(data["vus"]))
        if index >= active:
            return None
        data["vus"] = share(int(data["vus"]), index, active)
        data["iterations"] = share(int(data["iterations"]), index, active)
    elif kind == "ramping-vus":
        data["startVUs"] = share(int(data["startVUs"]), index, count)
        for stage in data["stages"]:
            stage["target"] = share(int(stage["target"]), index, count)
        if data["startVUs"] == 0 and all(s["target"] == 0 for s in data["stages"]):
            return None
    elif kind in ("constant-arrival-rate", "ramping-arrival-rate"):
        # Every slice walks the whole schedule and takes every count-th arrival: exact, where
        # dividing the rate would round arrivals up in each slice.
        data["slice"] = [index, count]
        _vu_caps(data, index, count)
    else:  # a model added later without a rule here must not be run N times over
        raise InvalidInput("--workers/--shard", [f"cannot split executor {kind!r}"])
    return parse_load(data)


def split_scenario(scenario: Scenario, index: int, count: int) -> Scenario | None:
    """Slice ``index`` of ``count`` of a scenario: every workload's load sliced, the seed
    derived; None when the slice holds no work at all."""
    if count == 1:
        return scenario
    workloads: dict[str, Any] = {}
    for name, spec in scenario.workloads.items():
        load = split_load(spec.load, index, count)
        if load is not None:
            workloads[name] = spec.model_copy(update={"load": load})
    if not workloads:
        return None
    seed = slice_seed(scenario.seed, index, count)
    return scenario.model_copy(update={"workloads": workloads, "seed": seed})


def parallelism(scenario: Scenario) -> int:
    """How many slices can all hold work: the largest workload's VUs (an arrival-rate workload
    can be split any number of ways, its VU cap bounds it)."""
    return max(spec.load.max_vus for spec in scenario.workloads.values())
