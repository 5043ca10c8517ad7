"""Connection capacity and call bursts against a small real websockets server on 127.0.0.1 that
speaks the first frames of the mock backend's native protocol (session.ready, the greeting)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import AsyncIterator

import pytest
from pydantic import ValidationError
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from generator.errors import TargetUnreachable
from generator.workloads.call_burst import CallBurstConfig, CallBurstWorkload
from generator.workloads.connections import ConnectionsConfig, ConnectionsWorkload
from tests.generator.workloads.fake_store import RecordingStore, make_ctx
from tests.support.polling import wait_until
from tests.support.ports import closed_port


class Voice:
    """Greets every caller; beyond ``capacity`` concurrent calls it closes 1013 (admission)."""

    def __init__(self, capacity: int | None = None, greet: bool = True) -> None:
        self.capacity = capacity
        self.greet = greet
        self.open = 0
        self.peak = 0
        self.paths: list[str] = []
        self.close_codes: list[int | None] = []
        self.url = ""

    async def handler(self, ws: ServerConnection) -> None:
        self.paths.append(ws.request.path if ws.request else "")
        if self.capacity is not None and self.open >= self.capacity:
            await ws.send(json.dumps({"type": "error", "code": "capacity", "message": "full"}))
            await ws.close(1013, "server at capacity")
            return
        self.open += 1
        self.peak = max(self.peak, self.open)
        try:
            await ws.send(json.dumps({"type": "session.ready", "session_id": "s"}))
            if self.greet:
                await ws.send(json.dumps({"type": "response.started", "kind": "greeting"}))
            while True:
                await ws.send(b"\x00" * 960)
                await asyncio.sleep(0.05)
        except ConnectionClosed:
            pass
        finally:
            self.open -= 1
            self.close_codes.append(ws.close_code)


@contextlib.asynccontextmanager
async def _serve(voice: Voice) -> AsyncIterator[Voice]:
    async with serve(voice.handler, "127.0.0.1", 0, compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        voice.url = f"ws://127.0.0.1:{port}/ws/voice/{{id}}"
        yield voice


@pytest.fixture
async def voice() -> AsyncIterator[Voice]:
    async with _serve(Voice()) as v:
        yield v


@pytest.fixture
async def small_voice() -> AsyncIterator[Voice]:
    async with _serve(Voice(capacity=5)) as v:
        yield v


async def _closed_loop(workload: object, store: RecordingStore, vus: int) -> None:
    """Every VU runs one iteration at once: enough to hold N connections together."""
    await workload.setup()  # type: ignore[attr-defined]
    now = time.monotonic()
    await asyncio.gather(
        *(
            workload.iteration(  # type: ignore[attr-defined]
                make_ctx(store, iteration=0, vu=vu, start=now, rng=random.Random(vu))
            )
            for vu in range(vus)
        )
    )
    await workload.teardown()  # type: ignore[attr-defined]


@pytest.mark.timeout(60)
async def test_fifty_held_connections_succeed(voice: Voice) -> None:
    store = RecordingStore()
    config = ConnectionsConfig(url=voice.url, hold_min_s=2.0, hold_max_s=2.5)
    await _closed_loop(ConnectionsWorkload(config), store, 50)
    assert store.total("ws_sessions", outcome="ok") == 50
    assert store.total("ws_sessions", outcome="failed") == 0
    assert store.total("ws_success") == 50
    connecting = store.of("ws_connecting")
    assert len(connecting) == 50
    assert all(0 < c.value < 10_000 for c in connecting)
    assert voice.peak == 50
    assert len(set(voice.paths)) == 50  # `{id}` was replaced per connection
    assert all(p.startswith("/ws/voice/") for p in voice.paths)
    await wait_until(lambda: len(voice.close_codes) == 50)  # server handlers end just after
    assert voice.close_codes == [1000] * 50
    assert max(o.value for o in store.of("ws_open")) == 50


async def test_admission_closes_are_server_capacity(small_voice: Voice) -> None:
    store = RecordingStore()
    config = ConnectionsConfig(url=small_voice.url, hold_min_s=1.0, hold_max_s=1.0)
    await _closed_loop(ConnectionsWorkload(config), store, 8)
    assert store.total("ws_sessions", outcome="ok") == 5
    assert store.total("ws_sessions", outcome="failed") == 3
    assert store.total("errors_total", kind="server_capacity", code="1013") == 3


async def test_an_unreachable_target_stops_setup() -> None:
    workload = ConnectionsWorkload(ConnectionsConfig(url=f"ws://127.0.0.1:{closed_port()}/ws"))
    with pytest.raises(TargetUnreachable):
        await workload.setup()


def test_config_checks_urls_and_hold_ranges() -> None:
    with pytest.raises(ValidationError) as info:
        ConnectionsConfig(url="http://x", hold_min_s=5, hold_max_s=1)
    assert "ws://" in str(info.value)
    with pytest.raises(ValidationError, match="hold_min_s"):
        ConnectionsConfig(url="ws://x", hold_min_s=5, hold_max_s=1)


async def test_call_burst_counts_accepted_and_rejected(small_voice: Voice) -> None:
    store = RecordingStore()
    # Held open by the other callers: the server is full after 5.
    holders = ConnectionsWorkload(
        ConnectionsConfig(url=small_voice.url, hold_min_s=3, hold_max_s=3)
    )
    holding = asyncio.create_task(_closed_loop(holders, RecordingStore(), 5))
    await wait_until(lambda: small_voice.open == 5)
    await _closed_loop(CallBurstWorkload(CallBurstConfig(url=small_voice.url)), store, 4)
    await holding
    assert store.total("call_requests_total", outcome="rejected") == 4
    assert store.total("call_requests_total", outcome="accepted") == 0
    assert store.total("call_accepted") == 0

    await wait_until(lambda: small_voice.open == 0)  # the holders' server handlers end last
    store = RecordingStore()
    await _closed_loop(CallBurstWorkload(CallBurstConfig(url=small_voice.url)), store, 3)
    assert store.total("call_requests_total", outcome="accepted") == 3
    assert len(store.of("call_answer_time")) == 3
    assert len(store.of("call_ready_time")) == 3


async def test_call_burst_times_out_without_an_answer() -> None:
    async with _serve(Voice(greet=False)) as silent:
        store = RecordingStore()
        config = CallBurstConfig(url=silent.url, answer_timeout_s=0.3)
        await _closed_loop(CallBurstWorkload(config), store, 2)
        assert store.total("call_requests_total", outcome="timed_out") == 2
        assert store.total("errors_total", kind="greeting_timeout") == 2


class Listener(Voice):
    """Counts the caller's utterances and the page each connection came from."""

    def __init__(self) -> None:
        super().__init__()
        self.utterances = 0
        self.audio_bytes = 0

    async def handler(self, ws: ServerConnection) -> None:
        self.paths.append(ws.request.path if ws.request else "")
        try:
            async for message in ws:
                if isinstance(message, bytes):
                    self.audio_bytes += len(message)
                elif json.loads(message).get("type") == "end_of_utterance":
                    self.utterances += 1
        except ConnectionClosed:
            pass


async def test_visitors_join_from_pages_and_some_speak() -> None:
    listener = Listener()
    async with _serve(listener):
        store = RecordingStore()
        config = ConnectionsConfig(
            url=listener.url,
            hold_min_s=0.6,
            hold_max_s=0.8,
            pages=("/pricing", "/contact us"),
            interact_probability=0.5,
            interaction_audio_ms=100,
        )
        await _closed_loop(ConnectionsWorkload(config), store, 20)
        spoke = store.total("ws_interactions")
        assert 3 <= spoke <= 17  # about half of 20, from the seeded draws
        await wait_until(lambda: listener.utterances >= spoke)
        assert listener.utterances == spoke
        assert listener.audio_bytes == spoke * 5 * 960
        pages = {p.partition("page=")[2] for p in listener.paths}
        assert pages == {"/pricing", "/contact%20us"}
        assert store.total("ws_sessions", outcome="ok") == 20
