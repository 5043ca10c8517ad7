"""A lean HTTP/1.1 client for the HTTP load: keep-alive connections as `asyncio.Protocol`s, each
request written as prebuilt bytes, each response parsed for what a load test records (status,
length, Location) and its body counted, not kept.

Why not aiohttp: its client builds a request object, headers multidict, timer context and
response object per request. That costs about as much as Locust's whole request, so a generator
built on it measures itself long before the target. Here a request is one `transport.write` and
one future; one timer watches every request under way (at the soonest deadline), and a response
head seen before is not parsed again (http1_wire.py, which also builds the request bytes).

What it does not do (the HTTP workload's aiohttp sender does): proxies, cookies, compression
negotiation, HTTP/2. Redirects are the caller's to follow (the result carries Location).
"""

from __future__ import annotations

import asyncio
import math
import ssl as ssl_module
from collections import deque
from typing import Final, cast

from generator.errors import GeneratorError
from generator.protocols.http1_wire import (
    MAX_HEAD_BYTES,
    Head,
    Http1Result,
    build_request,
    parse_head,
)

_NO_BODY: Final = frozenset({204, 304})
# Body framing of the response being read.
_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _TRAILER, _UNTIL_CLOSE = range(6)
# The deadline timer may fire up to this early (uvloop's timers count whole milliseconds).
_EARLY_S: Final = 0.001


class Http1Error(GeneratorError):
    """A request that got no complete response; ``kind`` is its error-taxonomy name: refused,
    tls, timeout, closed or protocol_error."""

    def __init__(self, kind: str, message: str, *, stale: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        # The server closed a kept-alive connection before answering: safe to send again.
        self.stale = stale


class _Connection(asyncio.Protocol):
    """One keep-alive connection; reads one response at a time."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.transport: asyncio.Transport | None = None
        self.lost = asyncio.get_running_loop().create_future()
        self.reusable = False
        self.deadline = math.inf  # of the request under way (Http1Client._expire_due)
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
        try:
            if self._state == _HEAD and not self._buf and self._whole(data):
                return
            self._buf += data
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

    def _whole(self, data: bytes) -> bool:
        """The usual case, read straight from ``data``: one read holding one whole final
        response framed by its length. False (nothing consumed) for anything else."""
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = parse_head(data[: end + 2])
        status, length = head.status, head.length
        if status < 200 or head.chunked or length is None or length < 0:
            return False
        if self._head_only or status in _NO_BODY:
            length = 0
        if len(data) - end - 4 != length:
            return False
        self._status, self._body, self._location = status, length, head.location
        self._keep_alive, self._state = head.keep_alive, _LENGTH
        self._complete()
        return True

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
                head = parse_head(bytes(buf[: end + 2]))
                del buf[: end + 4]
                if head.status < 200 and head.status != 101:
                    continue  # interim (100 Continue): the final response follows
                self._frame(head)
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

    def _frame(self, head: Head) -> None:
        """How the body after this head ends (the response's framing)."""
        status, length = head.status, head.length
        self._status, self._body = status, 0
        self._keep_alive, self._location = head.keep_alive, head.location
        if self._head_only or status in _NO_BODY or status < 200:
            self._state, self._remaining = _LENGTH, 0
        elif head.chunked:
            self._state = _CHUNK_SIZE
        elif length is None:
            self._state = _UNTIL_CLOSE
            self._keep_alive = False
        elif length < 0:
            raise ValueError("Content-Length is not a number")
        else:
            self._state, self._remaining = _LENGTH, length


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
        # The loop, once known: asyncio.get_running_loop() makes a getpid() system call.
        self._loop: asyncio.AbstractEventLoop | None = None
        # One timer for every request under way, at the soonest deadline (`_expire_due`): a
        # timer per request cost more than a request's parsing (1.6 µs on uvloop).
        self._timer: asyncio.TimerHandle | None = None

    async def request(self, raw: bytes, *, head: bool = False) -> Http1Result:
        """Send ``raw`` (from `build_request`) and read the response; raises Http1Error."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
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
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
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
        conn.deadline = deadline
        conn.send(raw, waiter, head)
        if self._timer is None:
            # Every deadline is its request's start + the same timeout, so no later request's
            # comes before this one: the timer stays at the soonest.
            self._timer = loop.call_at(deadline, self._expire_due, loop)
        try:
            result = await waiter
        except BaseException:
            conn.abort()  # its response is still to come, or half read: never reuse it
            self._all.discard(conn)
            raise
        if conn.reusable and not self._closed:
            self._idle.append(conn)
        else:
            conn.abort()
            self._all.discard(conn)
        return result

    def _expire_due(self, loop: asyncio.AbstractEventLoop) -> None:
        """Fails the requests whose deadline has come; the timer moves to the next deadline of
        those still under way (none under way: it stops, and the next request starts it)."""
        self._timer = None
        due = loop.time() + _EARLY_S
        soonest = math.inf
        for conn in list(self._all):
            if conn._waiter is not None:  # a request under way
                if conn.deadline <= due:
                    conn.fail("timeout", self._late)
                elif conn.deadline < soonest:
                    soonest = conn.deadline
        if soonest < math.inf and not self._closed:
            self._timer = loop.call_at(soonest, self._expire_due, loop)


__all__ = ["MAX_HEAD_BYTES", "Http1Client", "Http1Error", "Http1Result", "build_request"]
