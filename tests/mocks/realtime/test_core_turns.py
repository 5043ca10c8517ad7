"""Turn detection as OpenAI's GA API does it, on the sans-I/O session: server VAD's threshold,
prefix padding and silence duration on PCM16 and G.711 µ-law/A-law, semantic VAD's eagerness
bounds, ``create_response``, ``idle_timeout_ms`` → ``input_audio_buffer.timeout_triggered``, and
barge-in (``interrupt_response``) with ``conversation.item.truncate``."""

from __future__ import annotations

import base64
from array import array
from typing import Any

import pytest

from mocks.realtime.script import ScriptConfig
from mocks.realtime.session_config import EAGERNESS_MAX_MS
from mocks.realtime.speech import AudioFormat, alaw_encode, ulaw_encode
from tests.mocks.realtime.realtime_helpers import MANUAL_TURNS, Driver, check_sdk_shape, silence_b64
from tests.mocks.realtime.rt_api_helpers import tone_pcm16

FORMATS = {
    AudioFormat.PCM16: {"type": "audio/pcm", "rate": 24000},
    AudioFormat.PCMU: {"type": "audio/pcmu"},
    AudioFormat.PCMA: {"type": "audio/pcma"},
}


def tone_b64(ms: int, fmt: AudioFormat, level: float = 0.3) -> str:
    """A steady tone (a constant level, unlike speech's syllables) in ``fmt``."""
    pcm = tone_pcm16(ms, rate=fmt.rate, level=level)
    if fmt is AudioFormat.PCM16:
        return base64.b64encode(pcm).decode("ascii")
    samples = array("h")
    samples.frombytes(pcm)
    encode = ulaw_encode if fmt is AudioFormat.PCMU else alaw_encode
    return base64.b64encode(bytes(encode(s) for s in samples)).decode("ascii")


def vad_session(fmt: AudioFormat, turn_detection: dict[str, Any], **driver: Any) -> Driver:
    d = Driver(**driver)
    audio_in = {"format": FORMATS[fmt], "turn_detection": turn_detection}
    session = {"type": "realtime", "audio": {"input": audio_in}}
    d.send({"type": "session.update", "session": session})
    assert not d.events("error"), d.events("error")
    return d


def stream(d: Driver, chunks: list[str], step_ms: int = 20) -> None:
    """Appends ``chunks`` one every ``step_ms``, as a caller streaming the line in real time."""
    for chunk in chunks:
        d.send({"type": "input_audio_buffer.append", "audio": chunk}, at=d.now + step_ms / 1000)


def line(fmt: AudioFormat, *parts: tuple[str, int], level: float = 0.3) -> list[str]:
    """20 ms chunks of ("tone"|"silence", ms) parts, in order."""
    chunks: list[str] = []
    for kind, ms in parts:
        for _ in range(ms // 20):
            chunks.append(tone_b64(20, fmt, level) if kind == "tone" else silence_b64(20, fmt))
    return chunks


@pytest.mark.parametrize("fmt", list(AudioFormat))
def test_threshold_decides_what_is_speech(fmt: AudioFormat) -> None:
    quiet = line(fmt, ("tone", 400), ("silence", 800), level=0.1)
    heard = vad_session(fmt, {"type": "server_vad", "threshold": 0.5})
    stream(heard, quiet)
    not_heard = vad_session(fmt, {"type": "server_vad", "threshold": 0.9})
    stream(not_heard, quiet)
    assert len(heard.events("input_audio_buffer.speech_started")) == 1
    assert not not_heard.events("input_audio_buffer.speech_started")
    assert not not_heard.events("input_audio_buffer.committed")


@pytest.mark.parametrize("fmt", list(AudioFormat))
@pytest.mark.parametrize(("prefix_ms", "silence_ms"), [(0, 700), (200, 300)])
def test_prefix_padding_and_silence_duration(
    fmt: AudioFormat, prefix_ms: int, silence_ms: int
) -> None:
    settings = {"type": "server_vad", "prefix_padding_ms": prefix_ms}
    d = vad_session(fmt, {**settings, "silence_duration_ms": silence_ms})
    stream(d, line(fmt, ("silence", 400), ("tone", 600), ("silence", silence_ms - 20)))
    (started,) = d.events("input_audio_buffer.speech_started")
    assert started["audio_start_ms"] == 400 - prefix_ms
    assert not d.events("input_audio_buffer.speech_stopped"), (
        "not before the silence is long enough"
    )
    stream(d, line(fmt, ("silence", 20)))
    (stopped,) = d.events("input_audio_buffer.speech_stopped")
    assert stopped["audio_end_ms"] == 400 + 600 + silence_ms
    assert d.events("input_audio_buffer.committed")[0]["item_id"] == started["item_id"]
    assert d.events("response.created"), "create_response defaults to true"
    for event in d.events():
        check_sdk_shape(event)


@pytest.mark.parametrize("eagerness", ["low", "medium", "high", "auto"])
def test_semantic_vad_ends_the_turn_by_its_eagerness_bound(eagerness: str) -> None:
    fmt = AudioFormat.PCMU
    d = vad_session(fmt, {"type": "semantic_vad", "eagerness": eagerness})
    rendered = d.events("session.updated")[0]["session"]["audio"]["input"]["turn_detection"]
    assert rendered == {
        "type": "semantic_vad",
        "eagerness": eagerness,
        "create_response": True,
        "interrupt_response": True,
    }
    bound = EAGERNESS_MAX_MS[eagerness]
    stream(d, line(fmt, ("tone", 400), ("silence", bound - 20)))
    assert not d.events("input_audio_buffer.speech_stopped")
    stream(d, line(fmt, ("silence", 20)))
    (stopped,) = d.events("input_audio_buffer.speech_stopped")
    assert stopped["audio_end_ms"] - 400 <= bound


def test_semantic_vad_refuses_an_idle_timeout() -> None:
    d = Driver()
    td = {"type": "semantic_vad", "idle_timeout_ms": 3000}
    session = {"type": "realtime", "audio": {"input": {"turn_detection": td}}}
    d.send({"type": "session.update", "session": session})
    (error,) = d.events("error")
    assert error["error"]["param"].endswith("idle_timeout_ms")


def test_create_response_false_commits_without_answering() -> None:
    fmt = AudioFormat.PCM16
    d = vad_session(fmt, {"type": "server_vad", "create_response": False})
    stream(d, line(fmt, ("tone", 300), ("silence", 600)))
    assert d.events("input_audio_buffer.committed")
    assert not d.events("response.created")


def greeted(idle_ms: int) -> tuple[Driver, float]:
    """A session with an idle timeout that has heard its greeting; also when the greeting's
    audio finished playing at the caller (first delta + its length)."""
    fmt = AudioFormat.PCM16
    d = vad_session(fmt, {"type": "server_vad", "idle_timeout_ms": idle_ms})
    d.send({"type": "response.create"})
    stream(d, line(fmt, ("silence", 500)))  # the line streams on while the greeting plays
    assert d.events("response.done")
    played = d.times("response.output_audio.delta")[0] + 200 / 1000  # the Driver's greeting_ms
    return d, played


def test_idle_timeout_commits_the_silence_and_answers() -> None:
    idle_ms = 2000
    d, played = greeted(idle_ms)
    stream(d, line(AudioFormat.PCM16, ("silence", 3000)))  # the caller says nothing
    (triggered,) = d.events("input_audio_buffer.timeout_triggered")
    check_sdk_shape(triggered)
    (at,) = d.times("input_audio_buffer.timeout_triggered")
    assert played + idle_ms / 1000 <= at <= played + idle_ms / 1000 + 0.001
    audio_span = triggered["audio_end_ms"] - triggered["audio_start_ms"]
    assert abs(audio_span - idle_ms) <= 20  # the silence streamed meanwhile, to a 20 ms chunk
    committed = d.events("input_audio_buffer.committed")
    assert committed[-1]["item_id"] == triggered["item_id"]
    assert len(d.events("response.created")) == 2  # the greeting, then the prompt to go on


def test_speech_before_the_idle_timeout_disarms_it() -> None:
    d, _ = greeted(1500)
    stream(d, line(AudioFormat.PCM16, ("silence", 1000), ("tone", 300)))
    d.advance(d.now + 5)
    assert not d.events("input_audio_buffer.timeout_triggered")


def long_response_driver(turn_detection: dict[str, Any]) -> Driver:
    d = Driver(script=ScriptConfig(greeting_ms=3000, answer_ms=300, chunk_ms=50))
    session = {"type": "realtime", "audio": {"input": {"turn_detection": turn_detection}}}
    d.send({"type": "session.update", "session": session})
    d.send({"type": "response.create"})
    d.advance(d.now + 1.0)  # a second of the 3 s greeting is out
    assert d.events("response.output_audio.delta")
    return d


def test_barge_in_cancels_the_response_in_flight() -> None:
    d = long_response_driver({"type": "server_vad"})
    before = len(d.events("response.output_audio.delta"))
    stream(d, line(AudioFormat.PCM16, ("tone", 100)))
    types = d.types()
    started = types.index("input_audio_buffer.speech_started")
    done = d.events("response.done")[0]["response"]
    assert types.index("response.done") > started
    assert done["status"] == "cancelled"
    assert done["status_details"]["reason"] == "turn_detected"
    assert d.session.record.responses[0].status == "cancelled"
    d.advance(d.now + 5)
    after_cancel = len(d.events("response.output_audio.delta"))
    assert after_cancel - before <= 3, "no more audio once cancelled (only what the 100 ms covered)"
    # output_audio_buffer.cleared is WebRTC/SIP only: a WebSocket session never gets it.
    assert "output_audio_buffer.cleared" not in d.types()


def test_interrupt_response_false_lets_the_response_finish() -> None:
    d = long_response_driver({"type": "server_vad", "interrupt_response": False})
    stream(d, line(AudioFormat.PCM16, ("tone", 100)))
    assert d.events("input_audio_buffer.speech_started")
    d.run_idle()
    assert d.events("response.done")[0]["response"]["status"] == "completed"


def test_truncate_cuts_what_the_caller_heard_and_no_more() -> None:
    d = long_response_driver({"type": "server_vad"})
    stream(d, line(AudioFormat.PCM16, ("tone", 100)))
    item_id = d.events("response.output_item.added")[0]["item"]["id"]
    truncate = {"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0}
    d.send({**truncate, "audio_end_ms": 3500})  # longer than the 3 s the item holds
    error = d.events("error")[0]["error"]
    assert (error["code"], error["param"]) == ("invalid_value", "audio_end_ms")
    d.send({**truncate, "audio_end_ms": 900})
    (truncated,) = d.events("conversation.item.truncated")
    check_sdk_shape(truncated)
    assert (truncated["item_id"], truncated["audio_end_ms"]) == (item_id, 900)
    d.send({**truncate, "audio_end_ms": 1000})  # now it holds 900 ms
    assert len(d.events("error")) == 2


def test_manual_turns_never_barge_in() -> None:
    d = Driver(script=ScriptConfig(greeting_ms=2000, answer_ms=300, chunk_ms=50))
    d.send({"type": "session.update", "session": MANUAL_TURNS})
    d.send({"type": "response.create"})
    d.advance(0.5)
    stream(d, line(AudioFormat.PCM16, ("tone", 200)))
    d.run_idle()
    assert d.events("response.done")[0]["response"]["status"] == "completed"


@pytest.mark.parametrize("fmt", [AudioFormat.PCM16, AudioFormat.PCMU])
def test_voice_to_voice_is_the_silence_duration_plus_the_injected_latency(fmt: AudioFormat) -> None:
    """A caller streaming 20 ms frames in real time: from the end of its last voiced frame to the
    first audio delta is silence_duration_ms + the latency, to the frame."""
    silence_ms, latency_ms = 400, 250
    latency = {"latency": {"distribution": "fixed", "ms": latency_ms}}
    d = vad_session(fmt, {"type": "server_vad", "silence_duration_ms": silence_ms}, faults=latency)
    stream(d, line(fmt, ("tone", 600)))
    last_voiced_end = d.now  # the frame appended now covers the last 20 ms of the tone
    stream(d, line(fmt, ("silence", 1000)))
    d.run_idle()
    (stopped_at,) = d.times("input_audio_buffer.speech_stopped")
    first_delta = d.times("response.output_audio.delta")[0]
    assert stopped_at - last_voiced_end == pytest.approx(silence_ms / 1000)
    assert first_delta - stopped_at == pytest.approx(latency_ms / 1000)
