"""Fixtures of the conformance tests, which drive code nobody here wrote (the official ``openai``
SDK, ``openai-agents``, pipecat, Twilio's reference bridge) against our fakes.

Nothing in this folder may share a name with a third-party package (pytest puts the folder on
``sys.path``): no ``openai.py``, ``agents.py`` or ``pipecat.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from conformance_helpers import ANSWER_MS, GREETING_MS

from mocks.realtime.server import RealtimeServer


@pytest.fixture
async def upstream() -> AsyncIterator[RealtimeServer]:
    """The fake Realtime upstream, in-process on a free loopback port."""
    async with RealtimeServer(seed=15, greeting_ms=GREETING_MS, answer_ms=ANSWER_MS) as server:
        yield server
