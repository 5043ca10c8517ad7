"""HTTP/1.1 on the wire, without I/O: a request's bytes, built once per endpoint, and a response
head read into what the lean client (http1.py) needs from it.

A load test reads the same head over and over (nginx's differs only in its Date line, once a
second), so `parse_head` remembers what it read per head, in a small table: a repeated head costs
one dict lookup instead of lower-casing it and searching it for four headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, NamedTuple

MAX_HEAD_BYTES: Final = 65536
# Methods sent without Content-Length when they carry no body (as aiohttp does).
_BODILESS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Heads remembered by `parse_head`, up to a size each (a server whose heads vary, e.g. with a
# request id, would otherwise grow the table without bound: it starts over when full).
_HEADS_KEPT: Final = 256
_HEAD_KEPT_BYTES: Final = 2048


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


class Http1Result(NamedTuple):  # a NamedTuple: half the cost of a frozen dataclass to make
    """What a request got back (http1.py), the body counted, not kept."""

    status: int
    location: str | None
    body_bytes: int


class Head(NamedTuple):
    """What a response head says about the response. ``length``: Content-Length (None: not
    given; -1: not a number, an error only where the body is framed by it); ``chunked``:
    Transfer-Encoding chunked, which wins over a length."""

    status: int
    keep_alive: bool
    location: str | None
    chunked: bool
    length: int | None


def _header(head: bytes, name: bytes) -> bytes | None:
    """The value of header ``name`` (lower case, with CRLF before and colon after) in ``head``,
    which is the lower-cased status line and headers."""
    start = head.find(name)
    if start < 0:
        return None
    start += len(name)
    end = head.find(b"\r\n", start)
    return head[start : end if end >= 0 else len(head)].strip()


_heads: dict[bytes, Head] = {}


def parse_head(raw: bytes) -> Head:
    """``raw``: the status line and headers, each line ending in CRLF (the empty line that ends
    the head left out). Raises ValueError when it does not parse."""
    found = _heads.get(raw)
    if found is not None:
        return found
    head = raw.lower()
    if not head.startswith(b"http/1.") or head[8:9] != b" ":
        raise ValueError(f"status line {head[:40]!r}")
    status = int(head[9:12])
    if not 100 <= status <= 599:
        raise ValueError(f"status {status}")
    connection = _header(head, b"\r\nconnection:") or b""
    # HTTP/1.1 keeps the connection unless told to close it; HTTP/1.0 closes unless told.
    http11 = head[7:8] == b"1"
    keep_alive = b"close" not in connection if http11 else b"keep-alive" in connection
    location = _header(head, b"\r\nlocation:")
    chunked = b"chunked" in (_header(head, b"\r\ntransfer-encoding:") or b"")
    length = _header(head, b"\r\ncontent-length:")
    parsed = Head(
        status,
        keep_alive,
        location.decode("latin-1") if location is not None else None,
        chunked,
        None if length is None else int(length) if length.isdigit() else -1,
    )
    if len(raw) <= _HEAD_KEPT_BYTES:
        if len(_heads) >= _HEADS_KEPT:
            _heads.clear()
        _heads[raw] = parsed
    return parsed


__all__ = ["MAX_HEAD_BYTES", "Head", "Http1Result", "build_request", "parse_head"]
