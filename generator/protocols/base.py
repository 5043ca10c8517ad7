"""What every call protocol's client is, as the call workload sees it, and the pieces they share.

A client speaks one protocol for one call: `connect`, `wait_greeting` (per the greeting mode:
wait for one, skip it, or take one if it comes), then per turn `send_utterance` (the caller's
audio at real-time pace), `end_utterance` (the caller's turn is over: its `TurnEnd` says when the
last voiced frame went out, the origin of every turn latency), `wait_response` (the answer: audio
that *starts* after the turn ended, read to its end, tool calls handled on the way), or instead
`barge_in` (speak the next utterance over the answer and see whether the assistant stops), and
finally `hangup`; `close` is always safe. Failures are raised as the CallError tree of
generator/protocols/errors.py, already classified.

`ResponseTracker` turns the arrival of response audio into the numbers the workload records;
`open_ws` opens a connection the way every client does (`open_call`: with a call's settings), as
a `TimedConnection` that stamps each message when its bytes arrive, and `receive` hands out
messages with those times: a latency is then the target's, not the wait for the generator's event
loop to get round to reading.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from ssl import SSLContext
from typing import Any, Final, Literal, Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import DATA_OPCODES, Frame
from websockets.protocol import Event

from generator.protocols.errors import (
    ProtocolViolation,
    SessionFailed,
    classify_connect,
    classify_session,
)

Clock = Callable[[], float]
LagSink = Callable[[float], None]  # receives each frame's send lag, in seconds
Frames = Sequence[str | bytes]
# wait: a greeting must come (GreetingTimeout otherwise); none: the caller speaks at once;
# auto: a greeting that starts within the greeting timeout is heard out, else the caller speaks.
GreetingMode = Literal["wait", "none", "auto"]
GREETING_MODES: Final[tuple[GreetingMode, ...]] = ("wait", "none", "auto")

# Response audio of a long answer is a few MB of base64 at most; 16 MB leaves room for any sane
# server and still refuses a runaway one.
MAX_MESSAGE_BYTES: Final = 16 * 2**20
CLOSE_TIMEOUT_S: Final = 2.0


@dataclass(frozen=True)
class ClientSettings:
    """How one client connects and how long it waits; ``clock`` timestamps every event.
    ``headers`` go on the handshake (already expanded, generator/protocols/transport.py);
    ``ssl`` is the workload's shared TLS context for wss:// (None: the system default)."""

    url: str
    connect_timeout_s: float = 10.0
    greeting_timeout_s: float = 15.0
    response_timeout_s: float = 15.0
    clock: Clock = time.monotonic
    headers: tuple[tuple[str, str], ...] = ()
    ssl: SSLContext | None = None
    # Twilio: an assistant turn is over once the line has been quiet this long; the line's
    # silence is seeded low-level noise instead of digital silence when ``line_noise``.
    quiet_gap_s: float = 0.7
    line_noise: bool = False


@dataclass(frozen=True)
class Utterance:
    """One utterance of the caller as its protocol's ready-to-send 20 ms frames, and where the
    voice is in it (frame indexes): the turn ends, for latency, at ``last_voiced``."""

    frames: Frames
    first_voiced: int
    last_voiced: int

    @classmethod
    def of(cls, frames: Frames, voiced: Sequence[bool]) -> Utterance:
        marks = [k for k, v in enumerate(voiced[: len(frames)]) if v]
        if not marks:  # all silence: its last frame is as good an end as any
            return cls(frames, 0, max(0, len(frames) - 1))
        return cls(frames, marks[0], marks[-1])


@dataclass(frozen=True)
class TurnEnd:
    """When the caller's turn ended (clock seconds): ``voiced_at`` the send of its last voiced
    frame (voice-to-voice latencies count from here), ``ended_at`` the end of the turn as the
    protocol signals it (end_of_utterance / commit sent, or the last frame on a Twilio line)."""

    voiced_at: float
    ended_at: float


@dataclass(frozen=True)
class BargeIn:
    """The caller talking over an answer (clock seconds). ``first_audio_at`` is the interrupted
    answer's first audio; ``speech_at`` the caller's first voiced frame over it (None: the answer
    was over before the caller got to speak, so nothing was interrupted); ``stopped_at`` when the
    backend stopped the assistant (Twilio `clear`, a cancelled response, the output cleared);
    ``ignored`` when the assistant was still talking ``bound`` seconds after the caller began."""

    first_audio_at: float
    speech_at: float | None
    stopped_at: float | None
    ignored: bool


@dataclass(frozen=True)
class ResponseTiming:
    """One assistant response as the caller heard it (clock seconds).

    ``audio_gap_s`` is how much later than real time the audio arrived: the last chunk should
    have arrived once the audio before it had played, counting from the first chunk's arrival.
    """

    first_audio_at: float
    last_audio_at: float
    audio_s: float
    last_chunk_s: float
    done_at: float
    tool_calls: int = 0
    speech_stopped_at: float | None = None  # the backend's VAD saw the caller stop, when shown

    @property
    def audio_gap_s(self) -> float:
        expected_last = self.first_audio_at + (self.audio_s - self.last_chunk_s)
        return max(0.0, self.last_audio_at - expected_last)


class ResponseTracker:
    """Collects the audio chunks of one response as they arrive."""

    __slots__ = ("audio_s", "first_at", "last_at", "last_chunk_s", "tool_calls")

    def __init__(self) -> None:
        self.first_at: float | None = None
        self.last_at = 0.0
        self.audio_s = 0.0
        self.last_chunk_s = 0.0
        self.tool_calls = 0

    @property
    def has_audio(self) -> bool:
        return self.first_at is not None

    def audio(self, at: float, seconds: float) -> None:
        if self.first_at is None:
            self.first_at = at
        self.last_at = at
        self.audio_s += seconds
        self.last_chunk_s = seconds

    def finish(self, at: float, speech_stopped_at: float | None = None) -> ResponseTiming:
        if self.first_at is None:
            raise ProtocolViolation("the response ended without any audio")
        return ResponseTiming(
            self.first_at,
            self.last_at,
            self.audio_s,
            self.last_chunk_s,
            at,
            self.tool_calls,
            speech_stopped_at,
        )


class CallClient(Protocol):
    """The client side of one call, whatever the protocol."""

    protocol: str

    async def connect(self) -> float:
        """Open the connection (and the session); returns the clock time it was up."""

    async def wait_greeting(self, mode: GreetingMode) -> ResponseTiming | None:
        """The assistant's greeting heard to its end, or None when there is none to wait for
        (mode none, or auto with nothing within the greeting timeout); GreetingTimeout in mode
        wait."""

    async def send_utterance(self, utterance: Utterance, on_lag: LagSink) -> None:
        """Send the utterance's frames on an absolute real-time schedule."""

    async def end_utterance(self) -> TurnEnd:
        """End the caller's turn (the protocol's end-of-speech signal, if it has one)."""

    async def wait_response(self) -> ResponseTiming:
        """The answer to the turn just ended: audio that starts after it, read to its end
        (ResponseTimeout if it does not come or stalls)."""

    async def barge_in(
        self, utterance: Utterance, after_s: float, bound_s: float, on_lag: LagSink
    ) -> BargeIn:
        """Wait for the answer's audio, start speaking ``utterance`` ``after_s`` after it began
        playing, and watch for the backend to stop the assistant (for at most ``bound_s``);
        returns once the utterance is sent. The next `end_utterance` ends that utterance."""

    async def hangup(self) -> None:
        """End the call politely."""

    async def close(self) -> None:
        """Release the connection; safe at any point, also after a failure."""


class TimedConnection(ClientConnection):
    """A client connection that notes when each message's last frame arrived, as the bytes come
    in, so that latencies do not include the wait until the reading task next runs (one event
    loop turn, more on a loaded generator). ``receive`` pairs the times with the messages."""

    clock: Clock = time.monotonic

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals: collections.deque[float] = collections.deque()

    def process_event(self, event: Event) -> None:
        super().process_event(event)
        if isinstance(event, Frame) and event.fin and event.opcode in DATA_OPCODES:
            self.arrivals.append(self.clock())


@functools.cache
def _timed_connection(clock: Clock) -> type[TimedConnection]:
    return type("TimedConnection", (TimedConnection,), {"clock": staticmethod(clock)})


async def open_ws(
    url: str,
    timeout_s: float,
    headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    clock: Clock = time.monotonic,
    ssl_context: SSLContext | None = None,
) -> ClientConnection:
    """Open a connection the generator's way: no compression (frame sizes and CPU are what the
    peer sends), no proxy from the environment, no keepalive pings (the call has its own
    timeouts), room for large frames. ``headers`` may repeat a name as pairs; ``ssl_context``
    (wss:// only) replaces the default one. Raises a classified ConnectFailed."""
    # websockets refuses ssl=None for wss://: pass a context only when there is one.
    tls: dict[str, Any] = {} if ssl_context is None else {"ssl": ssl_context}
    try:
        return await connect(
            url,
            compression=None,
            proxy=None,
            open_timeout=timeout_s,
            close_timeout=CLOSE_TIMEOUT_S,
            ping_interval=None,
            max_size=MAX_MESSAGE_BYTES,
            additional_headers=list(_pairs(headers)) or None,
            create_connection=_timed_connection(clock),
            **tls,
        )
    except Exception as exc:  # every failure to open is classified, none escapes raw
        raise classify_connect(exc) from exc


async def open_call(
    settings: ClientSettings, url: str, headers: tuple[tuple[str, str], ...] | None = None
) -> ClientConnection:
    """`open_ws` as a call client opens its connection: with the settings' connect timeout,
    clock and TLS context, and their headers unless ``headers`` replaces them."""
    return await open_ws(
        url,
        settings.connect_timeout_s,
        settings.headers if headers is None else headers,
        clock=settings.clock,
        ssl_context=settings.ssl,
    )


def _pairs(
    headers: Mapping[str, str] | Sequence[tuple[str, str]] | None,
) -> Sequence[tuple[str, str]]:
    if headers is None:
        return ()
    return list(headers.items()) if isinstance(headers, Mapping) else headers


async def receive(ws: ClientConnection, deadline: Deadline) -> tuple[str | bytes, float]:
    """The next message before the deadline (else the deadline's error) and the clock time it
    arrived; a close becomes SessionClosed."""
    try:
        async with asyncio.timeout(deadline.left()):
            message = await ws.recv()
    except TimeoutError:
        raise deadline.expired() from None
    except ConnectionClosed as exc:
        raise classify_session(exc) from None
    if isinstance(ws, TimedConnection) and ws.arrivals:
        return message, ws.arrivals.popleft()
    return message, deadline.now()


def parse_event(message: str) -> dict[str, Any]:
    """A text frame as a JSON object, or ProtocolViolation."""
    try:
        event = json.loads(message)
    except ValueError:
        raise ProtocolViolation(f"not JSON: {message[:80]!r}") from None
    if not isinstance(event, dict):
        raise ProtocolViolation(f"not a JSON object: {message[:80]!r}")
    return event


def b64_size(data: str) -> int:
    """The decoded size of a base64 string, without decoding it."""
    return len(data) * 3 // 4 - data.count("=", -2)


async def send(ws: ClientConnection, message: str | bytes) -> None:
    """Send one message; a closed connection becomes SessionClosed."""
    try:
        await ws.send(message)
    except ConnectionClosed as exc:
        raise classify_session(exc) from None


class Deadline:
    """Time left until a fixed point: a step's timeout that survives many reads."""

    __slots__ = ("_at", "_clock", "_error", "timeout_s")

    def __init__(
        self, clock: Clock, timeout_s: float, error: Callable[[str], SessionFailed]
    ) -> None:
        self._clock = clock
        self.timeout_s = timeout_s
        self._at = clock() + timeout_s
        self._error = error

    def left(self) -> float:
        left = self._at - self._clock()
        if left <= 0:
            raise self.expired()
        return left

    def now(self) -> float:
        return self._clock()

    def expired(self) -> SessionFailed:
        return self._error(f"nothing for {self.timeout_s:g} s")

    def extend(self) -> None:
        """Restart the wait: the peer made progress."""
        self._at = self._clock() + self.timeout_s


async def close_quietly(ws: ClientConnection | None) -> None:
    if ws is not None:
        # Closing a connection the peer already dropped is not a failure of the call.
        with contextlib.suppress(OSError, ConnectionClosed):
            await ws.close()


__all__ = [
    "GREETING_MODES",
    "BargeIn",
    "CallClient",
    "ClientSettings",
    "Clock",
    "Deadline",
    "Frames",
    "GreetingMode",
    "LagSink",
    "ResponseTiming",
    "ResponseTracker",
    "TimedConnection",
    "TurnEnd",
    "Utterance",
    "b64_size",
    "close_quietly",
    "open_call",
    "open_ws",
    "parse_event",
    "receive",
    "send",
]
