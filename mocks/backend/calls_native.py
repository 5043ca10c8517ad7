"""``GET /ws/voice/{session_id}``: the native JSON call protocol (docs/protocol.md). Caller audio
is PCM16 24 kHz, as binary frames or base64 JSON; ``?vad=server`` lets the upstream find the end
of speech, otherwise the caller sends ``end_of_utterance``."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aiohttp import WSMsgType, web

from mocks.backend.bridge import AudioFormat, UpstreamSession, decode_audio
from mocks.backend.calls import (
    Recording,
    burn_cpu,
    close_ws,
    run_call,
    send_json,
)
from mocks.backend.keys import STATE_KEY
from mocks.backend.state import BackendState


class NativeCaller:
    protocol = "native"
    audio_format: AudioFormat = "audio/pcm"

    def __init__(
        self,
        state: BackendState,
        ws: web.WebSocketResponse,
        session_id: str,
        server_vad: bool,
        recording: Recording,
    ) -> None:
        self._state = state
        self._ws = ws
        self._session_id = session_id
        self.server_vad = server_vad
        self._recording = recording

    async def _send(self, event: dict[str, Any]) -> None:
        await send_json(self._ws, event)

    # -- the caller's side --------------------------------------------------------------------

    async def prepare(self) -> str | None:
        return self._session_id

    async def serve(self, upstream: UpstreamSession) -> str:
        async for message in self._ws:
            if message.type == WSMsgType.BINARY:
                await self._audio(upstream, base64.b64encode(message.data).decode(), message.data)
            elif message.type == WSMsgType.TEXT:
                outcome = await self._text(upstream, message.data)
                if outcome is not None:
                    return outcome
            elif message.type == WSMsgType.ERROR:
                break
        return "abandoned"

    async def _audio(self, upstream: UpstreamSession, b64: str, raw: bytes | None) -> None:
        burn_cpu(self._state.config.cpu_burn_ms_per_frame)
        if self._recording.enabled:
            # The naive design: the recording and the event log as received, for "analytics".
            self._recording.add(raw if raw is not None else decode_audio(b64))
            self._recording.add(b64)
        await upstream.append_audio(b64)

    async def _text(self, upstream: UpstreamSession, data: str) -> str | None:
        try:
            event = json.loads(data)
        except ValueError:
            await self.error("bad_request", "frames must be JSON objects or binary audio")
            return None
        kind = event.get("type") if isinstance(event, dict) else None
        if kind == "audio":
            b64 = event.get("audio")
            try:
                raw = base64.b64decode(b64, validate=True) if isinstance(b64, str) else None
            except binascii.Error:
                raw = None
            if raw is None or not isinstance(b64, str):
                await self.error("bad_request", "`audio` must hold base64 PCM16")
                return None
            await self._audio(upstream, b64, raw)
        elif kind == "end_of_utterance":
            await upstream.end_utterance()
        elif kind == "hangup":
            await self._send({"type": "hangup", "reason": "caller_hangup"})
            return "completed"
        else:
            await self.error("bad_request", f"unknown frame type {kind!r}")
        return None

    async def error(self, code: str, message: str) -> None:
        await self._send({"type": "error", "code": code, "message": message})

    async def end(self, close_code: int, reason: str) -> None:
        await close_ws(self._ws, close_code, reason)

    # -- the upstream's side (CallSink) -------------------------------------------------------

    async def ready(self, call_id: str) -> None:
        await self._send(
            {"type": "session.ready", "session_id": self._session_id, "call_id": call_id}
        )

    async def response_started(self, response_id: str, kind: str) -> None:
        await self._send({"type": "response.started", "response_id": response_id, "kind": kind})

    async def audio(self, response_id: str, b64: str) -> None:
        if self._recording.enabled:
            self._recording.add(decode_audio(b64))
            self._recording.add(b64)
        await self._send({"type": "audio", "response_id": response_id, "audio": b64})

    async def transcript(self, response_id: str, text: str) -> None:
        self._recording.add(text)
        await self._send({"type": "transcript", "response_id": response_id, "text": text})

    async def tool_call(self, name: str, arguments: dict[str, Any], result: Any) -> None:
        await self._send(
            {"type": "tool_call", "name": name, "arguments": arguments, "result": result}
        )

    async def response_done(self, response_id: str, status: str, had_audio: bool) -> None:
        await self._send({"type": "response.done", "response_id": response_id, "status": status})

    async def speech(self, started: bool) -> None:
        await self._send({"type": "speech_started" if started else "speech_stopped"})


async def handle(request: web.Request) -> web.StreamResponse:
    state: BackendState = request.app[STATE_KEY]
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=4 * 1024 * 1024)
    await ws.prepare(request)
    recording = Recording(state.config.leak_transcripts)
    server_vad = request.query.get("vad") == "server"
    caller = NativeCaller(state, ws, request.match_info["session_id"], server_vad, recording)
    state.sockets.add(ws)
    try:
        await run_call(state, caller, recording)
    finally:
        state.sockets.discard(ws)
    return ws
