"""``GET /media-stream``: Twilio Media Streams. In: ``connected``, ``start`` (streamSid, callSid),
``media`` (20 ms of 8 kHz mu-law, base64), ``mark``, ``stop``. Out: ``media`` with the streamSid,
a ``mark`` closing each spoken response, ``clear`` when the caller barges in, and (not Twilio's,
but readable) ``error`` events before the backend gives up.

The audio goes to the upstream as ``audio/pcmu`` untouched, and comes back the same way. The end
of an utterance is a ``mark`` named ``end_of_utterance`` from the caller, or, with ``?vad=server``,
the upstream's server VAD (docs/protocol.md).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import WSMsgType, web

from mocks.backend.bridge import AudioFormat, UpstreamSession, decode_audio
from mocks.backend.calls import Recording, burn_cpu, close_ws, run_call, send_json
from mocks.backend.codec import mulaw8k_to_pcm24k
from mocks.backend.keys import STATE_KEY
from mocks.backend.state import BackendState

END_OF_UTTERANCE_MARK = "end_of_utterance"


class TwilioCaller:
    protocol = "twilio"
    audio_format: AudioFormat = "audio/pcmu"

    def __init__(
        self,
        state: BackendState,
        ws: web.WebSocketResponse,
        server_vad: bool,
        recording: Recording,
    ) -> None:
        self._state = state
        self._ws = ws
        self.server_vad = server_vad
        self._recording = recording
        self.stream_sid = ""
        self._marks = 0

    async def _send(self, event: dict[str, Any]) -> None:
        await send_json(self._ws, event)

    async def _events(self) -> Any:
        """The caller's JSON events; frames that are not JSON objects are skipped."""
        async for message in self._ws:
            if message.type == WSMsgType.TEXT:
                try:
                    event = json.loads(message.data)
                except ValueError:
                    continue
                if isinstance(event, dict):
                    yield event
            elif message.type == WSMsgType.ERROR:
                return

    # -- the caller's side --------------------------------------------------------------------

    async def prepare(self) -> str | None:
        async for event in self._events():
            if event.get("event") == "start":
                start = event.get("start") or {}
                self.stream_sid = str(event.get("streamSid") or start.get("streamSid") or "")
                params = start.get("customParameters") or {}
                if isinstance(params, dict) and params.get("vad") == "server":
                    self.server_vad = True
                return str(start.get("callSid") or self.stream_sid or "twilio-call")
            if event.get("event") == "stop":
                return None
        return None

    async def serve(self, upstream: UpstreamSession) -> str:
        async for event in self._events():
            kind = event.get("event")
            if kind == "media":
                media = event.get("media") or {}
                payload = media.get("payload")
                if isinstance(payload, str) and media.get("track", "inbound") == "inbound":
                    burn_cpu(self._state.config.cpu_burn_ms_per_frame)
                    if self._recording.enabled:
                        self._recording.add(mulaw8k_to_pcm24k(decode_audio(payload)))
                        self._recording.add(payload)
                    await upstream.append_audio(payload)
            elif kind == "mark":
                mark = event.get("mark") or {}
                if mark.get("name") == END_OF_UTTERANCE_MARK:
                    await upstream.end_utterance()
                # Other marks are Twilio echoing ours back once their audio has played.
            elif kind == "stop":
                return "completed"
        return "abandoned"

    async def error(self, code: str, message: str) -> None:
        await self._send(
            {"event": "error", "streamSid": self.stream_sid, "code": code, "message": message}
        )

    async def end(self, close_code: int, reason: str) -> None:
        await close_ws(self._ws, close_code, reason)

    # -- the upstream's side (CallSink) -------------------------------------------------------

    async def ready(self, call_id: str) -> None:
        return None

    async def response_started(self, response_id: str, kind: str) -> None:
        return None

    async def audio(self, response_id: str, b64: str) -> None:
        if self._recording.enabled:
            self._recording.add(mulaw8k_to_pcm24k(decode_audio(b64)))
            self._recording.add(b64)
        await self._send(
            {"event": "media", "streamSid": self.stream_sid, "media": {"payload": b64}}
        )

    async def transcript(self, response_id: str, text: str) -> None:
        self._recording.add(text)

    async def tool_call(self, name: str, arguments: dict[str, Any], result: Any) -> None:
        return None

    async def response_done(self, response_id: str, status: str, had_audio: bool) -> None:
        if had_audio:
            self._marks += 1
            name = f"response-{self._marks}"
            await self._send(
                {"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}}
            )

    async def speech(self, started: bool) -> None:
        if started:  # the caller talks over the assistant: drop the audio Twilio has buffered
            await self._send({"event": "clear", "streamSid": self.stream_sid})


async def handle(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=4 * 1024 * 1024)
    await ws.prepare(request)
    recording = Recording(state.config.leak_transcripts)
    caller = TwilioCaller(state, ws, request.query.get("vad") == "server", recording)
    state.sockets.add(ws)
    try:
        await run_call(state, caller, recording)
    finally:
        state.sockets.discard(ws)
    return ws
