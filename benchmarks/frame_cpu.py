"""`python benchmarks/frame_cpu.py [CALLS] [SECONDS]`: the Python CPU of one Twilio media frame,
the generator's side only, measured so that a shared machine hardly moves it.

CALLS Twilio callers (generator/protocols/twilio.py, 750 by default) each have their line on the
loop's shared pacer, as in a run, but their connection is a stand-in whose transport drops what
it is given (no socket, no kernel), and the clock is a counter this script moves by 1 ms before
each of the pacer's ticks, so no timer or sleep is involved: every frame of every call is built,
framed, masked and "written", and, while the caller speaks, its `send_lag` recorded into a real
metrics store, exactly as in a run. CPU time (time.process_time, so time the process spends
descheduled is not counted) per frame is printed for speech and for line silence, the best of
five blocks each. What this leaves out — the system call and the kernel's loopback TCP, about
half of a frame's cost in a real run (py-spy) — is the same for every Python client.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from typing import Any, cast

from websockets.asyncio.client import ClientConnection
from websockets.protocol import OPEN

from generator.audio import utterance_pcm
from generator.distributed.fastloop import run
from generator.metrics.store import MetricsStore
from generator.protocols import encode_audio
from generator.protocols.base import ClientSettings, Utterance
from generator.protocols.pacing import pacer_for
from generator.protocols.twilio import TwilioClient

BLOCKS = 5


class _Clock:
    """Seconds that pass only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Transport:
    def __init__(self) -> None:
        self.frames = 0

    def write(self, _data: bytes) -> None:
        self.frames += 1

    def is_closing(self) -> bool:
        return False


class _Protocol:
    state = OPEN
    extensions: tuple[Any, ...] = ()


class _Connection:
    """What `pacing.ready` and `write_text` read of a websockets connection."""

    paused = False
    fragmented_send_waiter = None

    def __init__(self, transport: _Transport) -> None:
        self.protocol, self.transport = _Protocol(), transport


async def measure(calls: int, seconds: float, speech: Utterance | None) -> float:
    """Best µs of CPU per frame over BLOCKS blocks of ``seconds``/BLOCKS of pacer ticks."""
    clock, transport = _Clock(), _Transport()
    store = MetricsStore(clock=clock)
    tags = {"protocol": "twilio", "workload": "calls"}
    add_trend = store.add_trend

    def on_lag(lag_s: float) -> None:  # as generator/workloads/call.py records it
        add_trend("send_lag", lag_s * 1000.0, tags)

    clients = []
    for i in range(calls):
        settings = ClientSettings(url="ws://127.0.0.1:9", clock=clock)
        client = TwilioClient(settings, random.Random(i))
        # The connection the line writes to, as `connect` would have left it (a stand-in).
        client._ws = cast(ClientConnection, _Connection(transport))
        client._started_at = clock()
        if speech is not None:
            client._start_speaking(speech, on_lag)
        client._tasks = [asyncio.create_task(client._run_line())]
        clients.append(client)
        clock.now += 0.02 / calls  # the calls' frames spread over the 20 ms
    await asyncio.sleep(0)  # every line joins the pacer
    pacer, best = pacer_for(clock), float("inf")
    for _ in range(BLOCKS):
        frames, cpu = transport.frames, time.process_time()
        for _ in range(round(seconds * 1000 / BLOCKS)):
            clock.now += 0.001
            pacer._tick()
        best = min(best, (time.process_time() - cpu) / (transport.frames - frames) * 1e6)
    for client in clients:
        await client._stop_tasks()
    if speech is not None and store.trend("send_lag", tags).count == 0:
        raise RuntimeError("no send_lag recorded: the callers did not speak")
    return best


def main(argv: list[str]) -> int:
    try:
        calls = int(argv[0]) if argv else 750
        seconds = float(argv[1]) if len(argv) > 1 else 6.0
    except ValueError:
        calls, seconds = 0, 0.0
    if calls < 1 or seconds < 0.1:
        print("usage: frame_cpu.py [CALLS >= 1] [SECONDS >= 0.1]", file=sys.stderr)
        return 2
    speech = encode_audio("twilio", utterance_pcm(round(seconds * 1000) + 5000, 1))
    for name, utterance in (("speech", speech), ("silence", None)):
        found = run(measure(calls, seconds, utterance))  # on the runs' loop (uvloop)
        print(f"{name}: {found:.2f} us of CPU per frame ({calls} calls, best of {BLOCKS})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
