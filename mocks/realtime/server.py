"""``RealtimeServer``: the fake OpenAI Realtime upstream in one object. It owns the one seeded
``random.Random`` every fault draws from, the fault config (swappable at run time), the stats and
metrics, the WebSocket listener at ``/v1/realtime?model=...`` and the admin port.

Randomness, in a fixed order: each handshake draws its ``handshake_429`` roll and then the seed
of the session's own RNG; each response of a session draws its plan from that session RNG. So the
same seed and the same sequence of sessions give the same faults, however responses of concurrent
sessions interleave. A handshake refused for its API key (401) draws nothing.

Given an API key, a handshake without ``Authorization: Bearer <key>`` gets HTTP 401 with OpenAI's
JSON error body. A session opened with ``OpenAI-Beta: realtime=v1`` is refused in-band as OpenAI
refuses it since the beta's shutdown, unless ``legacy_beta`` (flag or faults knob) serves it.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import random
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import web
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.protocol import State as WsState

from mocks.errors import ConfigError
from mocks.realtime.connection import StampedConnection, run_session
from mocks.realtime.faults import FaultsConfig, parse_faults
from mocks.realtime.faults.base import FaultStreams
from mocks.realtime.faults.plan import draw_handshake, refusal
from mocks.realtime.metrics import RealtimeMetrics
from mocks.realtime.script import ScriptConfig
from mocks.realtime.session import RealtimeSession
from mocks.realtime.stats import HandshakeRecord, Stats
from mocks.realtime.timers import TimerLateness

PATH = "/v1/realtime"
DEFAULT_MODEL = "gpt-realtime"
# OpenAI's 401 bodies; the key a client sent is never echoed (nor logged).
NO_KEY_MESSAGE = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with "
    "blank username) if you're accessing the API from your browser and are prompted for a "
    "username. You can obtain an API key from https://platform.openai.com/account/api-keys."
)
WRONG_KEY_MESSAGE = (
    "Incorrect API key provided. You can find your API key at "
    "https://platform.openai.com/account/api-keys."
)


@dataclass(frozen=True)
class Admission:
    """What the handshake decided for a session, handed to its handler."""

    number: int
    attempt: int
    seed: int
    beta: bool
    model: str


class RealtimeServer:
    def __init__(
        self,
        faults: dict[str, Any] | FaultsConfig | None = None,
        *,
        seed: int = 0,
        greeting_ms: int = 1000,
        answer_ms: int = 1500,
        chunk_ms: int = 50,
        max_message_bytes: int = 1 << 20,
        api_key: str | None = None,
        legacy_beta: bool = False,
    ) -> None:
        self.seed = seed
        self._api_key = api_key
        self.legacy_beta = legacy_beta
        try:
            self.script = ScriptConfig(greeting_ms, answer_ms, chunk_ms)
        except ValueError as exc:
            raise ConfigError("realtime server options", str(exc).split("; ")) from None
        self.max_message_bytes = max_message_bytes
        self.faults = faults if isinstance(faults, FaultsConfig) else parse_faults(faults)
        self.metrics = RealtimeMetrics()
        self.stats = Stats()
        # The machine's timer lateness, kept across resets: it is the host's, not the run's.
        self.timers = TimerLateness()
        self.rng = random.Random(seed)
        self.streams = FaultStreams(self.rng)
        self._attempts = 0
        self._sessions = 0
        self._admitted: dict[ServerConnection, Admission] = {}
        self._ws: Server | None = None
        self._admin: web.AppRunner | None = None
        self.url = ""
        self.admin_url = ""

    # -- control ----------------------------------------------------------------------------------

    def set_faults(self, faults: FaultsConfig) -> None:
        """Takes effect for the next handshake and the next response of every open session."""
        self.faults = faults

    def reset(self) -> None:
        """Faults off, stats cleared, RNG and numbering back to the start."""
        self.faults = FaultsConfig()
        self.stats = Stats()
        self.rng = random.Random(self.seed)
        self.streams = FaultStreams(self.rng)
        self._attempts = 0
        self._sessions = 0

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0, admin_port: int = 0) -> None:
        from mocks.realtime.admin import build_admin_app  # admin imports this module's type

        self._ws = await serve(
            self._handle,
            host,
            port,
            process_request=self._process_request,
            max_size=self.max_message_bytes,
            compression=None,  # base64 audio hardly compresses; deflate would only cost CPU
            create_connection=StampedConnection,
        )
        ws_port = next(iter(self._ws.sockets)).getsockname()[1]
        self.url = f"ws://{host}:{ws_port}{PATH}"
        self._admin = web.AppRunner(build_admin_app(self), access_log=None)
        await self._admin.setup()
        site = web.TCPSite(self._admin, host, admin_port)
        await site.start()
        self.admin_url = f"http://{host}:{self._admin.addresses[0][1]}"

    async def close(self) -> None:
        if self._ws is not None:
            self._ws.close()
            await self._ws.wait_closed()
            self._ws = None
        if self._admin is not None:
            await self._admin.cleanup()
            self._admin = None

    async def __aenter__(self) -> RealtimeServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- websockets hooks -------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path.rstrip("/") != PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, f"no such path; use {PATH}\n")
        self._attempts += 1
        if (unauthorized := self._check_key(request.headers)) is not None:
            self.stats.rejections["unauthorized"] += 1
            self.stats.handshakes.append(HandshakeRecord(self._attempts, "unauthorized"))
            self.metrics.unauthorized_total.inc()  # not a 429: kept out of the rejections
            return unauthorized
        drawn = draw_handshake(self.faults, self.streams)
        session_seed = self.rng.getrandbits(64)
        if (refused := refusal(drawn, self._open_sessions)) is not None:
            return self._reject(refused.reason, refused.retry_after_s, connection)
        self._sessions += 1
        model = parse_qs(url.query).get("model", [DEFAULT_MODEL])[0]
        beta = "realtime=v1" in request.headers.get("OpenAI-Beta", "")
        self._admitted[connection] = Admission(
            self._sessions, self._attempts, session_seed, beta, model
        )
        return None

    def _check_key(self, headers: Headers) -> Response | None:
        """401 as OpenAI answers it, when a key is set and the handshake does not carry it."""
        if self._api_key is None:
            return None
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self._api_key.encode()
        ):
            return None
        wrong = scheme.lower() == "bearer" and token.strip() != ""
        error = {
            "message": WRONG_KEY_MESSAGE if wrong else NO_KEY_MESSAGE,
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key" if wrong else None,
        }
        body = json.dumps({"error": error}, indent=4).encode() + b"\n"
        headers_out = Headers(
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return Response(HTTPStatus.UNAUTHORIZED, "Unauthorized", headers_out, body)

    def _open_sessions(self) -> int:
        # Handshakes that never finished leave CLOSED connections behind: forget them here.
        for connection in [c for c in self._admitted if c.state is WsState.CLOSED]:
            del self._admitted[connection]
        return len(self._admitted)

    def _reject(self, reason: str, retry_after_s: int, connection: ServerConnection) -> Response:
        self.stats.rejections[reason] += 1
        self.stats.handshakes.append(HandshakeRecord(self._attempts, reason))
        self.metrics.rejected(reason)
        response = connection.respond(HTTPStatus.TOO_MANY_REQUESTS, "Too Many Requests\n")
        response.headers["Retry-After"] = str(retry_after_s)
        return response

    async def _handle(self, connection: ServerConnection) -> None:
        admission = self._admitted[connection]
        session = RealtimeSession(
            number=admission.number,
            model=admission.model,
            beta=admission.beta,
            rng=random.Random(admission.seed),
            faults=lambda: self.faults,
            script=self.script,
            now=asyncio.get_running_loop().time(),
            listener=self.metrics,
            legacy_beta=self.legacy_beta,
        )
        self.stats.sessions.append(session.record)
        self.stats.handshakes.append(
            HandshakeRecord(admission.attempt, "accepted", session.session_id)
        )
        self.metrics.sessions_total.inc()
        self.metrics.sessions_active.inc()
        try:
            await run_session(connection, session, self.timers)
        finally:
            self.metrics.sessions_active.dec()
            self._admitted.pop(connection, None)
