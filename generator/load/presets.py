"""Named load levels of `callbench calls` (the seed script's modes), and plans of them.

Every preset is a list of steps, each a label and a load model. Simple presets have one step;
`progressive` and `breakpoint` have several. A plan (`--plan quick,light,full,stress`) runs the
steps of its presets in order and stops at the first step whose thresholds fail; for breakpoint
the last level that passed is the capacity figure.

    quick        1 call
    light        10 calls at once
    full         50 calls at once
    stress       100 VUs calling back to back for 20 s
    spike        5 VUs, a jump to 100 within 5 s, 20 s there, back down
    soak         20 VUs for 10 min (leaks show as drift)
    progressive  1 → 5 → 10 → 20 → 50 calls at once, one step each
    breakpoint   5, 10, 20, 30, 50, 75, 100, 150, 200 calls at once until a threshold fails
"""

from __future__ import annotations

from generator.errors import InvalidInput
from generator.load.config import LoadConfig
from generator.load.constant_vus import ConstantVUs
from generator.load.ramping_vus import RampingVUs, Stage
from generator.load.shared_iterations import SharedIterations

Step = tuple[str, LoadConfig]

PROGRESSIVE_LEVELS = (1, 5, 10, 20, 50)
BREAKPOINT_LEVELS = (5, 10, 20, 30, 50, 75, 100, 150, 200)
STEPPED = ("progressive", "breakpoint")


def at_once(n: int) -> SharedIterations:
    """N calls started together, each once."""
    return SharedIterations(vus=n, iterations=n)


def preset(name: str) -> list[Step]:
    steps: dict[str, list[Step]] = {
        "quick": [("quick", at_once(1))],
        "light": [("light", at_once(10))],
        "full": [("full", at_once(50))],
        "stress": [("stress", ConstantVUs(vus=100, duration=20))],
        "spike": [
            (
                "spike",
                RampingVUs(
                    startVUs=5,
                    stages=(
                        Stage(duration=10, target=5),
                        Stage(duration=5, target=100),
                        Stage(duration=20, target=100),
                        Stage(duration=5, target=5),
                        Stage(duration=10, target=5),
                    ),
                ),
            )
        ],
        "soak": [("soak", ConstantVUs(vus=20, duration=600))],
        "progressive": [(f"progressive-{n}", at_once(n)) for n in PROGRESSIVE_LEVELS],
        "breakpoint": [(f"breakpoint-{n}", at_once(n)) for n in BREAKPOINT_LEVELS],
    }
    if name not in steps:
        raise InvalidInput("preset", [f"unknown preset {name!r}; known: {', '.join(steps)}"])
    return steps[name]


PRESET_NAMES = ("quick", "light", "full", "stress", "spike", "soak", "progressive", "breakpoint")


def plan(names: str) -> list[Step]:
    """The steps of a comma-separated list of presets, in order; all unknown names at once."""
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in PRESET_NAMES]
    if unknown or not wanted:
        raise InvalidInput(
            "plan",
            [f"unknown preset {n!r}" for n in unknown] or ["names no preset"],
        )
    return [step for name in wanted for step in preset(name)]


def level_of(step: LoadConfig) -> int:
    """The load level of a step, as the capacity figure reports it (VUs)."""
    return step.max_vus
