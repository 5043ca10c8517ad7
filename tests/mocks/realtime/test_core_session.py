"""The sans-I/O session, driven on a made-up clock: protocol shapes (checked against the official
openai SDK's models), the script, pacing, server VAD, and the in-session faults."""

from __future__ import annotations

import base64
import itertools
import json

import pytest

from mocks.realtime.outputs import Close, Reset
from mocks.realtime.speech import AudioFormat
from tests.mocks.realtime.realtime_helpers import (
    MANUAL_TURNS,
    TOOLS,
    Driver,
    audio_b64,
    check_sdk_shape,
    silence_b64,
    user_turn,
)


def test_greeting_is_paced_audio_and_every_event_parses_as_the_sdk_model() -> None:
    d = Driver()
    d.send({"type": "session.update", "session": MANUAL_TURNS})
    d.send({"type": "response.create"}, at=1.0)
    d.run_idle()
    for event in d.events():
        check_sdk_shape(event)  # raises on any shape the SDK would not accept
    types = d.types()
    assert types[:2] == ["session.created", "session.updated"]
    # OpenAI reports the rate limits at the start of a response, its tokens reserved.
    assert types[2:4] == ["response.created", "rate_limits.updated"]
    assert types[-1] == "response.done"
    assert types.count("rate_limits.updated") == 1
    deltas = d.events("response.output_audio.delta")
    assert len(deltas) == 4  # 200 ms in 50 ms chunks
    audio = b"".join(base64.b64decode(e["delta"]) for e in deltas)
    assert len(audio) == 200 * 24 * 2
    assert any(audio), "the greeting is speech, not silence"
    times = d.times("response.output_audio.delta")
    assert times == pytest.approx([1.0, 1.05, 1.1, 1.15])
    done = d.events("response.done")[0]["response"]
    assert done["status"] == "completed"
    assert done["usage"]["total_tokens"] > 0
    transcript = d.events("response.output_audio_transcript.done")[0]["transcript"]
    words = "".join(e["delta"] for e in d.events("response.output_audio_transcript.delta"))
    assert words == transcript


def test_the_script_with_tools_calls_then_answers_then_books() -> None:
    d = Driver()
    d.send({"type": "session.update", "session": {**MANUAL_TURNS, "tools": TOOLS}})
    d.send({"type": "response.create"})
    d.run_idle()
    user_turn(d)
    d.run_idle()
    call = d.events("response.function_call_arguments.done")[0]
    assert call["name"] == "check_availability"
    assert set(json.loads(call["arguments"])) == {"date", "service"}
    output = {"type": "function_call_output", "call_id": call["call_id"], "output": "{}"}
    d.send({"type": "conversation.item.create", "item": output})
    d.send({"type": "response.create"})
    d.run_idle()
    user_turn(d)
    d.run_idle()
    replies = [r.reply for r in d.session.record.responses]
    assert replies == ["greeting", "function_call", "answer", "function_call"]
    book = d.events("response.function_call_arguments.done")[1]
    assert book["name"] == "book_appointment"
    assert set(json.loads(book["arguments"])) == {"customer_phone", "date", "time"}
    for event in d.events():
        check_sdk_shape(event)


def test_without_tools_user_turns_get_spoken_answers() -> None:
    d = Driver()
    d.send({"type": "session.update", "session": MANUAL_TURNS})
    user_turn(d)
    d.run_idle()
    user_turn(d)
    d.run_idle()
    assert [r.reply for r in d.session.record.responses] == ["answer", "answer"]
    assert [r.status for r in d.session.record.responses] == ["completed", "completed"]


def test_beta_header_gives_beta_names_and_g711_formats() -> None:
    d = Driver(beta=True, legacy_beta=True)
    session = {"input_audio_format": "g711_ulaw", "output_audio_format": "g711_ulaw"}
    d.send({"type": "session.update", "session": {**session, "turn_detection": None}})
    d.send({"type": "response.create"})
    d.run_idle()
    updated = d.events("session.updated")[0]["session"]
    assert updated["output_audio_format"] == "g711_ulaw"
    assert updated["turn_detection"] is None
    deltas = d.events("response.audio.delta")
    assert deltas, d.types()
    assert not d.events("response.output_audio.delta")
    assert not d.events("conversation.item.added")  # GA only
    assert d.events("response.audio_transcript.delta")
    assert d.events("response.audio.done")
    assert len(base64.b64decode(deltas[0]["delta"])) == 400  # 50 ms at 8 kHz, 1 byte a sample


@pytest.mark.parametrize("fmt", [AudioFormat.PCMU, AudioFormat.PCMA])
def test_ga_g711_output_format_is_8khz(fmt: AudioFormat) -> None:
    d = Driver()
    audio = {"input": {"turn_detection": None}, "output": {"format": {"type": fmt.value}}}
    d.send({"type": "session.update", "session": {"type": "realtime", "audio": audio}})
    d.send({"type": "response.create"})
    d.run_idle()
    deltas = d.events("response.output_audio.delta")
    assert len(base64.b64decode(deltas[0]["delta"])) == 400
    assert d.events("session.updated")[0]["session"]["audio"]["output"]["format"] == {
        "type": fmt.value
    }


def test_server_vad_detects_speech_commits_and_answers_by_itself() -> None:
    d = Driver()  # server VAD is on by default, as at OpenAI
    for i in range(10):  # 1 s of speech in 100 ms appends
        d.send({"type": "input_audio_buffer.append", "audio": audio_b64(100)}, at=0.1 * i)
    assert d.events("input_audio_buffer.speech_started")
    assert not d.events("input_audio_buffer.speech_stopped")
    for i in range(10):  # then 1 s of silence
        d.send({"type": "input_audio_buffer.append", "audio": silence_b64(100)}, at=1 + 0.1 * i)
    d.run_idle()
    started = d.events("input_audio_buffer.speech_started")
    stopped = d.events("input_audio_buffer.speech_stopped")
    assert len(started) == 1
    assert len(stopped) == 1
    assert stopped[0]["audio_end_ms"] >= 1000 + 500
    committed = d.events("input_audio_buffer.committed")
    assert committed[0]["item_id"] == started[0]["item_id"]
    assert [r.reply for r in d.session.record.responses] == ["answer"]
    assert d.events("response.done")[0]["response"]["status"] == "completed"


def test_latency_fault_delays_the_first_delta_and_is_recorded() -> None:
    d = Driver({"latency": {"distribution": "fixed", "ms": 300}})
    d.send({"type": "session.update", "session": MANUAL_TURNS})
    d.send({"type": "response.create"}, at=2.0)
    d.run_idle()
    assert d.times("response.output_audio.delta")[0] == pytest.approx(2.3)
    record = d.session.record.responses[0]
    assert record.faults == ("latency",)
    assert record.injected_latency_ms == 300
    assert record.to_document()["create_to_first_delta_ms"] == pytest.approx(300)


def test_rate_limit_fault_sends_error_and_failed_response() -> None:
    d = Driver({"rate_limit": {"probability": 1.0}})
    d.send({"type": "session.update", "session": MANUAL_TURNS})
    d.send({"type": "response.create"})
    d.run_idle()
    error = d.events("error")[0]["error"]
    assert error["code"] == "rate_limit_exceeded"
    done = d.events("response.done")[0]
    check_sdk_shape(done)
    assert done["response"]["status"] == "failed"
    assert done["response"]["status_details"]["error"]["code"] == "rate_limit_exceeded"
    assert not d.events("response.output_audio.delta")
    assert d.session.record.responses[0].status == "failed"


def test_stall_never_answers_until_cancelled() -> None:
    d = Driver({"stall": {"probability": 1.0}})
    d.send({"type": "session.update", "session": MANUAL_TURNS})
    d.send({"type": "response.create"})
    d.run_idle()
    assert d.types()[-2:] == ["response.created", "rate_limits.updated"]
    d.send({"type": "response.create"})  # one response at a time, as OpenAI
    assert d.events("error")[0]["error"]["code"] == "conversation_already_has_active_response"
    d.send({"type": "response.cancel"})
    done = d.events("response.done")[0]["response"]
    assert done["status"] == "cancelled"
    assert d.session.record.responses[0].status == "cancelled"


@pytest.mark.parametrize(("mode", "kind"), [("close_1011", Close), ("reset", Reset)])
def test_drop_cuts_the_response_after_some_audio(mode: str, kind: type) -> None:
    d = Driver({"drop": {"probability": 1.0, "mode": mode}})
    d.send({"type": "session.update", "session": MANUAL_TURNS})
    d.send({"type": "response.create"})
    d.run_idle()
    assert d.events("response.output_audio.delta")
    assert not d.events("response.done")
    (drop,) = d.closes()
    assert isinstance(drop, kind)
    if isinstance(drop, Close):
        assert drop.code == 1011
    assert d.session.next_deadline() is None
    assert d.session.record.responses[0].status == "dropped"
    d.send({"type": "response.create"})  # a dead session ignores the rest
    assert d.types()[-1] in ("Close", "Reset")


def test_slow_audio_spaces_deltas_by_the_factor() -> None:
    d = Driver({"slow_audio": {"probability": 1.0, "factor": 3.0}})
    d.send({"type": "session.update", "session": MANUAL_TURNS})
    d.send({"type": "response.create"})
    d.run_idle()
    times = d.times("response.output_audio.delta")
    steps = [b - a for a, b in itertools.pairwise(times)]
    assert steps == pytest.approx([0.15] * 3)


def test_cancel_mid_audio_withdraws_the_rest() -> None:
    d = Driver()
    d.send({"type": "session.update", "session": MANUAL_TURNS})
    d.send({"type": "response.create"})
    d.advance(0.06)  # two deltas out
    d.send({"type": "response.cancel"})
    d.run_idle()
    assert len(d.events("response.output_audio.delta")) == 2
    assert d.events("response.done")[0]["response"]["status"] == "cancelled"
    assert not d.events("response.output_audio.done")


def test_truncate_and_clear() -> None:
    d = Driver()
    d.send({"type": "session.update", "session": MANUAL_TURNS})
    d.send({"type": "response.create"})
    d.run_idle()
    item_id = d.events("response.output_item.done")[0]["item"]["id"]
    truncate = {"item_id": item_id, "content_index": 0, "audio_end_ms": 100}
    d.send({"type": "conversation.item.truncate", **truncate})
    truncated = d.events("conversation.item.truncated")[0]
    check_sdk_shape(truncated)
    assert truncated["audio_end_ms"] == 100
    d.send({"type": "input_audio_buffer.append", "audio": audio_b64(200)})
    d.send({"type": "input_audio_buffer.clear"})
    d.send({"type": "input_audio_buffer.commit"})
    assert d.events("input_audio_buffer.cleared")
    assert d.events("error")[-1]["error"]["code"] == "input_audio_buffer_commit_empty"


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_json"),
        (b"\x00\x01binary", "invalid_message"),
        ('{"no_type": 1}', "missing_required_parameter"),
        ('{"type": "no.such.event"}', "invalid_value"),
        ('{"type": "input_audio_buffer.append"}', "missing_required_parameter"),
        ('{"type": "input_audio_buffer.append", "audio": "%%%"}', "invalid_value"),
        ('{"type": "session.update", "session": 3}', "invalid_type"),
        ('{"type": "session.update", "session": {"audio": {}}}', "missing_required_parameter"),
        (
            '{"type": "session.update", "session": {"type": "realtime", "audio": {"input": '
            '{"format": {"type": "audio/mp3"}}}}}',
            "invalid_value",
        ),
        ('{"type": "conversation.item.create", "item": {"type": "weird"}}', "invalid_value"),
        ('{"type": "conversation.item.truncate", "item_id": "x", "content_index": 0}', None),
        ('{"type": "response.cancel"}', "response_cancel_not_active"),
    ],
)
def test_bad_client_events_get_error_events_and_the_session_carries_on(
    message: str | bytes, code: str | None
) -> None:
    d = Driver()
    d.send({"type": "session.update", "session": MANUAL_TURNS, "event_id": "evt_1"})
    d.send(message)
    errors = d.events("error")
    assert len(errors) == 1
    check_sdk_shape(errors[0])
    if code is not None:
        assert errors[0]["error"]["code"] == code
    d.send({"type": "response.create", "event_id": "evt_2"})
    d.run_idle()
    assert d.events("response.done")[0]["response"]["status"] == "completed"


def test_error_names_the_client_event_id() -> None:
    d = Driver()
    d.send({"type": "response.cancel", "event_id": "evt_42"})
    assert d.events("error")[0]["error"]["event_id"] == "evt_42"


def test_an_internal_failure_costs_one_error_event_not_the_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("bug")

    d = Driver()
    monkeypatch.setattr("mocks.realtime.session.apply_update", broken)
    d.send({"type": "session.update", "session": {"type": "realtime"}})
    assert d.events("error")[0]["error"]["code"] == "server_error"
    d.send({"type": "response.create"})
    d.run_idle()
    assert d.events("response.done")[0]["response"]["status"] == "completed"
