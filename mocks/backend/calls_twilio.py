"""``GET /media-stream``: Twilio Media Streams, served as Twilio's reference bridge to the OpenAI
Realtime API serves them (twilio-samples/speech-assistant-openai-realtime-api-python).

In: ``connected``, ``start`` (streamSid, callSid), ``media`` (20 ms of 8 kHz mu-law, base64, sent
continuously — silence included — for the whole call), ``mark`` (Twilio echoing one of ours once
its audio has played, or when a ``clear`` dropped it), ``stop``. Out: ``media`` with the
streamSid, a ``mark`` after every audio chunk and one closing each response (a hint; nothing
depends on it), ``clear`` when the caller barges in, and (not Twilio's, but readable) ``error``
events before the backend gives up.

Caller audio goes to the upstream as ``audio/pcmu`` untouched, and comes back the same way. The
upstream's server VAD decides the end of the caller's turn and creates the response. On its
``input_audio_buffer.speech_started`` while the assistant's audio is still playing (marks not yet
echoed), the backend sends Twilio ``clear`` and the upstream ``conversation.item.truncate`` with
the audio the caller heard — unless the ``ignore_barge_in`` knob is on.

With ``twilio_auth_token`` set, the handshake must carry Twilio's ``X-Twilio-Signature`` over the
stream's ws:// or wss:// URL (a GET: no parameters), as Twilio sends it; anything else gets 403.

Legacy (a caller of callbench before it behaved as Twilio): ``?vad=off`` (or the stream's custom
parameter ``vad: off``) turns server VAD off, and a caller ``mark`` named ``end_of_utterance``
commits the turn. Twilio itself never sends marks of its own.
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
from mocks.backend.twilio_signature import is_valid

END_OF_UTTERANCE_MARK = "end_of_utterance"
VAD_OFF = "off"
MULAW_BYTES_PER_MS = 8


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
        self._upstream: UpstreamSession | None = None
        self._responses = 0
        self._parts = 0
        # Marks sent and not echoed yet, in order: the assistant's audio still queued at Twilio.
        self._pending: dict[str, None] = {}
        self._latest_media_ms = 0  # the caller's media timestamp: Twilio's clock of the call
        self._speaking_since_ms: int | None = None  # caller clock when the current item began
        self._audio_ms = 0  # assistant audio sent for the current item

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
                if isinstance(params, dict) and params.get("vad") == VAD_OFF:
                    self.server_vad = False
                return str(start.get("callSid") or self.stream_sid or "twilio-call")
            if event.get("event") == "stop":
                return None
        return None

    async def serve(self, upstream: UpstreamSession) -> str:
        self._upstream = upstream
        async for event in self._events():
            kind = event.get("event")
            if kind == "media":
                media = event.get("media") or {}
                payload = media.get("payload")
                if isinstance(payload, str) and media.get("track", "inbound") == "inbound":
                    self._clock(media.get("timestamp"))
                    burn_cpu(self._state.config.cpu_burn_ms_per_frame)
                    if self._recording.enabled:
                        self._recording.add(mulaw8k_to_pcm24k(decode_audio(payload)))
                        self._recording.add(payload)
                    await upstream.append_audio(payload)
            elif kind == "mark":
                mark = event.get("mark") or {}
                name = mark.get("name") if isinstance(mark, dict) else None
                if name == END_OF_UTTERANCE_MARK and not self.server_vad:
                    await upstream.end_utterance()
                elif isinstance(name, str):
                    self._pending.pop(name, None)  # its audio has played (or was cleared)
            elif kind == "stop":
                return "completed"
        return "abandoned"

    def _clock(self, timestamp: object) -> None:
        try:
            self._latest_media_ms = int(str(timestamp))
        except ValueError:
            self._latest_media_ms += 20  # no timestamp: one 20 ms frame later

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
        self._speaking_since_ms = None
        self._audio_ms = 0

    async def audio(self, response_id: str, b64: str) -> None:
        if self._recording.enabled:
            self._recording.add(mulaw8k_to_pcm24k(decode_audio(b64)))
            self._recording.add(b64)
        if self._speaking_since_ms is None:
            self._speaking_since_ms = self._latest_media_ms
        self._audio_ms += len(b64) * 3 // 4 // MULAW_BYTES_PER_MS
        await self._send(
            {"event": "media", "streamSid": self.stream_sid, "media": {"payload": b64}}
        )
        self._parts += 1
        await self._mark(f"part-{self._parts}")

    async def _mark(self, name: str) -> None:
        self._pending[name] = None
        await self._send({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}})

    async def transcript(self, response_id: str, text: str) -> None:
        self._recording.add(text)

    async def tool_call(self, name: str, arguments: dict[str, Any], result: Any) -> None:
        return None

    async def response_done(self, response_id: str, status: str, had_audio: bool) -> None:
        if had_audio:
            self._responses += 1
            await self._mark(f"response-{self._responses}")

    async def speech(self, started: bool) -> None:
        if not started or self._state.config.ignore_barge_in:
            return
        if not self._pending or self._speaking_since_ms is None:
            return  # nothing of the assistant's is playing: the caller is not interrupting
        # The caller talks over the assistant: what they heard stays in the conversation, the
        # rest is dropped upstream and from Twilio's buffer.
        heard_ms = min(self._audio_ms, self._latest_media_ms - self._speaking_since_ms)
        if self._upstream is not None:
            await self._upstream.truncate(heard_ms)
        await self._send({"event": "clear", "streamSid": self.stream_sid})
        self._pending.clear()
        self._speaking_since_ms = None


async def handle(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    token = state.config.twilio_auth_token
    if token is not None:
        # Twilio signs the handshake (a GET: the URL alone) with the stream's own URL, wss://.
        url = str(request.url.with_scheme("wss" if request.secure else "ws"))
        if not is_valid(token, url, [], request.headers.get("X-Twilio-Signature")):
            return web.json_response({"error": "invalid_signature"}, status=403)
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=4 * 1024 * 1024)
    await ws.prepare(request)
    recording = Recording(state.config.leak_transcripts)
    caller = TwilioCaller(state, ws, request.query.get("vad") != VAD_OFF, recording)
    state.sockets.add(ws)
    try:
        await run_call(state, caller, recording)
    finally:
        state.sockets.discard(ws)
    return ws
