"""A lean HTTP/1.1 client for the HTTP load: keep-alive connections as `asyncio.Protocol`s, each
request written as prebuilt bytes, each response parsed for what a load test records (status,
length, Location) and its body counted, not kept.

Why not aiohttp: its client builds a request object, headers multidict, timer context and
response object per request. That costs about as much as Locust's whole request, so a generator
built on it measures itself long before the target. Here a request is one `transport.write`, one
future and one timer.

What it does not do (the HTTP workload's aiohttp sender does): proxies, cookies, compression
negotiation, HTTP/2. Redirects are the caller's to follow (the result carries Location).
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, cast

from generator.errors import GeneratorError

MAX_HEAD_BYTES: Final = 65536
_NO_BODY: Final = frozenset({204, 304})
# Methods sent without Content-Length when they carry no body (as aiohttp does).
_BODILESS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Body framing of the response being read.
_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _TRAILER, _UNTIL_CLOSE = range(6)


class Http1Error(GeneratorError):
    """A request that got no complete response; ``kind`` is its error-taxonomy name: refused,
    tls, timeout, closed or protocol_error."""

    def __init__(self, kind: str, message: str, *, stale: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        # The server closed a kept-alive connection before answering: safe to send again.
        self.stale = stale


@dataclass(frozen=True, slots=True)
class Http1Result:
    status: int
    location: str | None
    body_bytes: int


def build_request(
    method: str, host_header: str, path: str, headers: Mapping[str, str], body: bytes | None
) -> bytes:
    """The whole request, built once and written for every request of an endpoint."""
    given = {name.lower() for name in headers}
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host_header}", "User-Agent: callbench"]
    # As aiohttp and k6 send them, so the target does the same work for either client (the body
    # is only counted, so a compressed one needs no decoding).
    if "accept" not in given:
        lines.append("Accept: */*")
    if "accept-encoding" not in given:
        lines.append("Accept-Encoding: gzip, deflate")
    for name, value in headers.items():
        if any(c in name + value for c in "\r\n") or ":" in name or not name:
            raise ValueError(f"header {name!r} has a line break or a bad name")
        if name.lower() not in ("host", "content-length"):
            lines.append(f"{name}: {value}")
    if body is not None or method not in _BODILESS:
        lines.append(f"Content-Length: {len(body or b'')}")
    for part in (method, path):
        if any(c in part for c in " \r\n"):
            raise ValueError(f"{part!r} has a space or a line break")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def _header(head: bytes, name: bytes) -> bytes | None:
    """The value of header ``name`` (lower case, with CRLF before and colon after) in ``head``,
    which is the lower-cased status line and headers."""
    start = head.find(name)
    if start < 0:
        return None
    start += len(name)
    end = head.find(b"\r\n", start)
    return head[start : end if end >= 0 else len(head)].strip()


class _Connection(asyncio.Protocol):
    """One keep-alive connection; reads one response at a time."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.transport: asyncio.Transport | None = None
        self.lost = asyncio.get_running_loop().create_future()
        self.reusable = False
        self._waiter: asyncio.Future[Http1Result] | None = None
        self._buf = bytearray()
        self._state = _HEAD
        self._head_only = False
        self._got_bytes = False
        self._status = 0
        self._location: str | None = None
        self._keep_alive = True
        self._remaining = 0
        self._body = 0

    # -- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # bytes nobody asked for: the connection is out of step
            self.reusable = False
            self.abort()
            return
        self._got_bytes = True
        self._buf += data
        try:
            self._parse()
        except (ValueError, IndexError) as exc:
            self.fail("protocol_error", f"{self.where}: response does not parse ({exc})")

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        if self._waiter is not None and not self._waiter.done():
            if self._state == _UNTIL_CLOSE:  # the body ends where the connection does
                self._complete()
            else:
                self.fail(
                    "closed",
                    f"{self.where}: connection closed before the response was complete",
                    stale=not self._got_bytes,
                )
        if not self.lost.done():
            self.lost.set_result(None)

    # -- one exchange ------------------------------------------------------------------------
    def send(self, raw: bytes, waiter: asyncio.Future[Http1Result], head_only: bool) -> None:
        self._waiter, self._head_only, self._got_bytes = waiter, head_only, False
        self._state, self.reusable = _HEAD, False
        assert self.transport is not None
        self.transport.write(raw)

    def fail(self, kind: str, message: str, *, stale: bool = False) -> None:
        waiter, self._waiter = self._waiter, None
        self.reusable = False
        self.abort()
        if waiter is not None and not waiter.done():
            waiter.set_exception(Http1Error(kind, message, stale=stale))

    def abort(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()

    def _complete(self) -> None:
        waiter, self._waiter = self._waiter, None
        self.reusable = self._keep_alive and self._state != _UNTIL_CLOSE and not self._buf
        if waiter is not None and not waiter.done():
            waiter.set_result(Http1Result(self._status, self._location, self._body))

    def _parse(self) -> None:
        buf = self._buf
        while True:
            state = self._state
            if state == _HEAD:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > MAX_HEAD_BYTES:
                        raise ValueError("headers over 64 kB")
                    return
                head = bytes(buf[: end + 2]).lower()
                del buf[: end + 4]
                if not head.startswith(b"http/1.") or head[8:9] != b" ":
                    raise ValueError(f"status line {head[:40]!r}")
                status = int(head[9:12])
                if not 100 <= status <= 599:
                    raise ValueError(f"status {status}")
                if status < 200 and status != 101:
                    continue  # interim (100 Continue): the final response follows
                self._head(head, status)
            elif state == _LENGTH:
                take = min(self._remaining, len(buf))
                del buf[:take]
                self._remaining -= take
                self._body += take
                if self._remaining:
                    return
                self._complete()
                return
            elif state == _CHUNK_SIZE:
                end = buf.find(b"\r\n")
                if end < 0:
                    return
                size = int(bytes(buf[:end]).split(b";", 1)[0].strip(), 16)
                del buf[: end + 2]
                if size < 0:
                    raise ValueError("negative chunk size")
                self._remaining, self._body = size, self._body + size
                self._state = _TRAILER if size == 0 else _CHUNK_DATA
            elif state == _CHUNK_DATA:
                if len(buf) < self._remaining + 2:
                    return
                if buf[self._remaining : self._remaining + 2] != b"\r\n":
                    raise ValueError("chunk not followed by CRLF")
                del buf[: self._remaining + 2]
                self._state = _CHUNK_SIZE
            elif state == _TRAILER:
                end = buf.find(b"\r\n")
                if end < 0:
                    return
                del buf[: end + 2]
                if end == 0:  # the empty line after the trailers
                    self._complete()
                    return
            else:  # _UNTIL_CLOSE
                self._body += len(buf)
                buf.clear()
                return

    def _head(self, head: bytes, status: int) -> None:
        self._status, self._body = status, 0
        connection = _header(head, b"\r\nconnection:") or b""
        if head[7:8] == b"1":
            self._keep_alive = b"close" not in connection
        else:
            self._keep_alive = b"keep-alive" in connection
        location = _header(head, b"\r\nlocation:")
        self._location = location.decode("latin-1") if location is not None else None
        if self._head_only or status in _NO_BODY or status < 200:
            self._state = _LENGTH
            self._remaining = 0
        elif b"chunked" in (_header(head, b"\r\ntransfer-encoding:") or b""):
            self._state = _CHUNK_SIZE
        else:
            length = _header(head, b"\r\ncontent-length:")
            if length is None:
                self._state = _UNTIL_CLOSE
                self._keep_alive = False
            else:
                if not length.isdigit():
                    raise ValueError(f"Content-Length {length!r}")
                self._state, self._remaining = _LENGTH, int(length)


class Http1Client:
    """Keep-alive connections to one host and port, at most ``max_connections`` at once; a
    request waits (FIFO) for a free one, the wait counting against ``timeout_s``."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        max_connections: int,
        timeout_s: float,
        ssl: ssl_module.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> None:
        self.host, self.port = host, port
        self._where = f"{host}:{port}"
        self._late = f"{self._where}: no response within the timeout"
        self._max = max_connections
        self._timeout_s = timeout_s
        self._ssl = ssl
        self._server_hostname = server_hostname
        self._idle: list[_Connection] = []
        self._all: set[_Connection] = set()
        self._busy = 0  # slots taken: connections in use or being opened
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False

    async def request(self, raw: bytes, *, head: bool = False) -> Http1Result:
        """Send ``raw`` (from `build_request`) and read the response; raises Http1Error."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout_s
        if self._busy < self._max and not self._closed:
            self._busy += 1
        else:
            await self._take_slot(loop, deadline)
        try:
            conn = self._reuse()
            if conn is not None:
                try:
                    return await self._exchange(loop, conn, raw, head, deadline)
                except Http1Error as exc:
                    if not exc.stale:
                        raise
                # The server had closed this kept-alive connection: once more on a new one.
            conn = await self._connect(deadline)
            return await self._exchange(loop, conn, raw, head, deadline)
        finally:
            self._give_slot()

    async def close(self) -> None:
        """Close every connection; requests under way and later ones fail as "closed"."""
        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(Http1Error("closed", f"{self._where}: client closed"))
        conns, self._idle = list(self._all), []
        for conn in conns:
            conn.fail("closed", f"{self._where}: client closed")
        if conns:
            await asyncio.wait([c.lost for c in conns], timeout=2.0)

    # -- the pool ----------------------------------------------------------------------------
    async def _take_slot(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        if self._closed:
            raise Http1Error("closed", f"{self._where}: client closed")
        if self._busy < self._max:
            self._busy += 1
            return
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_at(deadline, self._expire, waiter)
        try:
            await waiter  # the releasing request hands its slot over
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._give_slot()  # handed over just as we were cancelled
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise
        finally:
            timer.cancel()

    def _expire(self, waiter: asyncio.Future[None]) -> None:
        if not waiter.done():
            waiter.set_exception(
                Http1Error("timeout", f"{self._where}: no free connection within the timeout")
            )

    def _give_slot(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._busy -= 1

    def _reuse(self) -> _Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if conn.transport is not None and not conn.transport.is_closing():
                return conn
            self._all.discard(conn)
        return None

    async def _connect(self, deadline: float) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(deadline):
                _, conn = await loop.create_connection(
                    lambda: _Connection(self._where),
                    self.host,
                    self.port,
                    ssl=self._ssl,
                    server_hostname=self._server_hostname,
                )
        except TimeoutError:
            raise Http1Error("timeout", f"{self._where}: connect timed out") from None
        except ssl_module.SSLError as exc:
            raise Http1Error("tls", f"{self._where}: TLS handshake failed ({exc})") from None
        except OSError as exc:
            raise Http1Error("refused", f"{self._where}: cannot connect ({exc})") from None
        if self._closed:
            conn.abort()
            raise Http1Error("closed", f"{self._where}: client closed")
        self._all.add(conn)
        return conn

    async def _exchange(
        self,
        loop: asyncio.AbstractEventLoop,
        conn: _Connection,
        raw: bytes,
        head: bool,
        deadline: float,
    ) -> Http1Result:
        waiter: asyncio.Future[Http1Result] = loop.create_future()
        conn.send(raw, waiter, head)
        timer = loop.call_at(deadline, conn.fail, "timeout", self._late)
        try:
            result = await waiter
        except BaseException:
            conn.abort()  # its response is still to come, or half read: never reuse it
            self._all.discard(conn)
            raise
        finally:
            timer.cancel()
        if conn.reusable and not self._closed:
            self._idle.append(conn)
        else:
            conn.abort()
            self._all.discard(conn)
        return result


__all__ = ["MAX_HEAD_BYTES", "Http1Client", "Http1Error", "Http1Result", "build_request"]
