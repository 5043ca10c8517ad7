"""Why a call failed, in DESIGN.md's error taxonomy, and the mapping from the exceptions the
socket, TLS and websockets layers raise to it.

GeneratorError
 └── CallError                 a call failed; ``kind`` and ``tags`` go to `errors_total`
      ├── ConnectFailed        before the session was up: refused, connect_timeout, tls,
      │                        handshake_rejected {status}
      └── SessionFailed        after the connection opened:
           ├── GreetingTimeout     greeting_timeout
           ├── ResponseTimeout     response_timeout
           ├── SessionClosed       closed {code}, or server_capacity {code} for 1008/1013
           ├── ServerError         server_error {code}, or server_capacity for a `capacity` error
           └── ProtocolViolation   protocol_error: a frame the client could not read

The cut between connect-time and after-connect failures is aiohttp's: a refused port says
something else about a target than a session that dies half-way.
"""

from __future__ import annotations

import ssl
from typing import Final

from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)

from generator.errors import GeneratorError

# 1013 "try again later" is what admission control sends; 1008 is the policy close some servers
# use for "too many sessions".
CAPACITY_CLOSE_CODES: Final = frozenset({1008, 1013})
# Error codes a server uses to say "no room for this session" rather than "I broke".
CAPACITY_ERROR_CODES: Final = frozenset({"capacity", "session_limit", "max_sessions"})
# A connection lost without a close frame (a reset, a killed process).
ABNORMAL_CLOSE: Final = 1006


class CallError(GeneratorError):
    """A call failed; ``kind`` is its taxonomy name, ``tags`` the extra tags (status, code)."""

    kind = "protocol_error"

    def __init__(self, detail: str = "", tags: dict[str, str] | None = None) -> None:
        self.detail = detail
        self.tags: dict[str, str] = dict(tags or {})
        extra = ", ".join(f"{k}={v}" for k, v in sorted(self.tags.items()))
        super().__init__(f"{self.kind}" + (f" ({extra})" if extra else "") + f": {detail}")


class ConnectFailed(CallError):
    """The connection did not open; ``kind`` is set per instance."""

    def __init__(self, kind: str, detail: str = "", tags: dict[str, str] | None = None) -> None:
        self.kind = kind
        super().__init__(detail, tags)


class SessionFailed(CallError):
    """The connection opened, then the call failed."""


class GreetingTimeout(SessionFailed):
    kind = "greeting_timeout"


class ResponseTimeout(SessionFailed):
    kind = "response_timeout"


class SessionClosed(SessionFailed):
    """The server closed (or lost) the connection before the call was over."""

    def __init__(self, code: int | None, reason: str = "") -> None:
        code = ABNORMAL_CLOSE if code is None else code
        self.code = code
        self.kind = "server_capacity" if code in CAPACITY_CLOSE_CODES else "closed"
        super().__init__(reason or f"closed with {code}", {"code": str(code)})


class ServerError(SessionFailed):
    """The server sent an error event; ``code`` is the code it gave."""

    def __init__(self, code: str, message: str = "") -> None:
        self.code = code
        self.kind = "server_capacity" if code in CAPACITY_ERROR_CODES else "server_error"
        super().__init__(message or code, {"code": code})


class ProtocolViolation(SessionFailed):
    kind = "protocol_error"


def classify_connect(exc: BaseException) -> CallError:
    """The failure of opening a connection (TCP, TLS, HTTP upgrade) as a CallError."""
    if isinstance(exc, CallError):
        return exc
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        return ConnectFailed("handshake_rejected", f"HTTP {status}", {"status": str(status)})
    if isinstance(exc, TimeoutError):
        return ConnectFailed("connect_timeout", "the handshake did not finish in time")
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return ConnectFailed("tls", str(exc))
    if isinstance(exc, ConnectionClosed):
        # The server accepted the TCP connection and closed it during the upgrade.
        return classify_session(exc)
    if isinstance(exc, InvalidURI | InvalidHandshake):
        return ConnectFailed("protocol_error", str(exc))
    if isinstance(exc, OSError):
        return ConnectFailed("refused", exc.strerror or str(exc))
    return ConnectFailed("protocol_error", repr(exc))


def classify_session(exc: BaseException) -> CallError:
    """A failure after the connection opened as a CallError."""
    if isinstance(exc, CallError):
        return exc
    if isinstance(exc, ConnectionClosed):
        code = exc.rcvd.code if exc.rcvd is not None else None
        reason = exc.rcvd.reason if exc.rcvd is not None else ""
        return SessionClosed(code, reason)
    if isinstance(exc, ConnectionError):
        return SessionClosed(None, str(exc))
    return ProtocolViolation(repr(exc))


__all__ = [
    "CAPACITY_CLOSE_CODES",
    "CallError",
    "ConnectFailed",
    "GreetingTimeout",
    "ProtocolViolation",
    "ResponseTimeout",
    "ServerError",
    "SessionClosed",
    "SessionFailed",
    "classify_connect",
    "classify_session",
]
