"""A pinned seeded sequence: which faults fire on each response of a session, with what latency,
for one seed and one mix. It was recorded before the faults were reorganised (one file per fault)
and must not change: the same seed has to give the same run it always gave."""

from __future__ import annotations

from typing import Any

from tests.mocks.realtime.realtime_helpers import MANUAL_TURNS, Driver

MIX = {
    "latency": {"distribution": "lognormal", "median_ms": 300, "sigma": 0.6, "probability": 0.7},
    "rate_limit": {"probability": 0.1},
    "stall": {"probability": 0.1},
    "slow_audio": {"probability": 0.3, "factor": 1.5},
}

PINNED = [
    (["latency"], 146.918),
    ([], 0.0),
    (["latency", "slow_audio"], 839.583),
    (["slow_audio"], 0.0),
    (["latency", "slow_audio"], 210.44),
    (["latency"], 233.289),
    (["latency"], 535.079),
    (["stall"], 0.0),
    (["latency"], 191.968),
    ([], 0.0),
    (["latency"], 360.897),
    (["latency"], 570.074),
    (["rate_limit"], 0.0),
    (["latency"], 162.778),
    (["latency"], 448.452),
    (["latency"], 189.278),
    (["latency"], 655.366),
    (["latency", "slow_audio"], 187.211),
    (["latency"], 235.156),
    (["latency"], 437.774),
    (["latency", "slow_audio"], 143.495),
    (["latency", "slow_audio"], 414.416),
    (["latency", "slow_audio"], 536.386),
    (["latency"], 296.65),
    ([], 0.0),
    ([], 0.0),
    ([], 0.0),
    (["latency", "slow_audio"], 494.889),
    (["latency", "slow_audio"], 102.633),
    (["latency", "slow_audio"], 489.619),
]


def drawn_sequence(
    seed: int, n: int, mix: dict[str, Any] | None = None
) -> list[tuple[list[str], float]]:
    d = Driver(MIX if mix is None else mix, seed=seed)
    d.send({"type": "session.update", "session": MANUAL_TURNS})
    for _ in range(n):
        d.send({"type": "response.create"})
        d.run_idle()
        if d.session.record.responses[-1].status == "in_progress":  # a stall: give up on it
            d.send({"type": "response.cancel"})
            d.run_idle()
    return [(list(r.faults), round(r.injected_latency_ms, 3)) for r in d.session.record.responses]


def test_the_seeded_sequence_is_the_one_pinned() -> None:
    assert drawn_sequence(2026, len(PINNED)) == PINNED


def test_another_seed_gives_another_sequence() -> None:
    assert drawn_sequence(2027, len(PINNED)) != PINNED
