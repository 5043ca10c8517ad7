"""Fixtures of the conformance tests, which drive code nobody here wrote (the official ``openai``
SDK, ``openai-agents``, pipecat, Twilio's reference bridge) against our fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mocks.realtime.server import RealtimeServer
from tests.conformance.conformance_helpers import ANSWER_MS, API_KEY, GREETING_MS


@pytest.fixture
async def upstream() -> AsyncIterator[RealtimeServer]:
    """The fake Realtime upstream, in-process on a free loopback port; like OpenAI, it answers a
    handshake without ``Authorization: Bearer <API_KEY>`` with 401."""
    async with RealtimeServer(
        seed=15, greeting_ms=GREETING_MS, answer_ms=ANSWER_MS, api_key=API_KEY
    ) as server:
        yield server
