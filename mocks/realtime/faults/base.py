"""What every fault of the fake Realtime upstream shares: a frozen, validated config with a
``probability`` (Toxiproxy's "toxicity") and a ``fires`` draw from the server's seeded RNG."""

from __future__ import annotations

import random
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from mocks.faults import Probability, roll


class Fault(BaseModel):
    """A named fault that fires with ``probability`` on each chance it gets."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ClassVar[str]
    probability: Probability = 1.0

    def fires(self, rng: random.Random) -> bool:
        return roll(rng, self.probability)
