"""The lean sender (FastSender) against real aiohttp apps on 127.0.0.1: the request it builds is
the one aiohttp would send (path under the base URL, query, JSON and form bodies), and redirects
are followed as aiohttp follows them, including to another origin without the token."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr

from generator.workloads.endpoints import Endpoint, parse_endpoints
from generator.workloads.http_senders import AiohttpSender, FastSender
from tests.generator.workloads.cli_support import serve

pytestmark = pytest.mark.timeout(30)

TOKEN = "tok-0123456789abcdef"


@dataclass
class Seen:
    """What a server received: method, path with query, headers and body per request."""

    requests: list[dict[str, Any]] = field(default_factory=list)


async def _serve(routes: list[web.RouteDef], seen: Seen) -> tuple[web.AppRunner, str]:
    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        seen.requests.append(
            {
                "method": request.method,
                "path": request.path_qs,
                "headers": dict(request.headers),
                "body": await request.read(),
            }
        )
        response: web.StreamResponse = await handler(request)
        return response

    app = web.Application(middlewares=[record])
    app.add_routes(routes)
    return await serve(app)


@pytest.fixture
async def elsewhere() -> AsyncIterator[tuple[str, Seen]]:
    """A second origin (another port) that answers 200 to anything."""
    seen = Seen()

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="elsewhere")

    runner, url = await _serve([web.route("*", "/{tail:.*}", ok)], seen)
    yield url, seen
    await runner.cleanup()


@pytest.fixture
async def origin(elsewhere: tuple[str, Seen]) -> AsyncIterator[tuple[str, Seen]]:
    seen = Seen()
    other_url = elsewhere[0]

    async def echo(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def hop(request: web.Request) -> web.StreamResponse:
        status, target = int(request.match_info["status"]), request.query["to"]
        return web.StreamResponse(status=status, headers={"Location": target})

    async def loop(request: web.Request) -> web.StreamResponse:
        return web.StreamResponse(status=302, headers={"Location": "/api/loop"})

    async def away(request: web.Request) -> web.StreamResponse:
        return web.StreamResponse(status=302, headers={"Location": f"{other_url}/landed"})

    routes = [
        web.route("*", "/api/echo", echo),
        web.route("*", "/api/hop/{status}", hop),
        web.route("*", "/api/loop", loop),
        web.route("*", "/api/away", away),
    ]
    runner, url = await _serve(routes, seen)
    yield url, seen
    await runner.cleanup()


def _endpoint(**fields: Any) -> Endpoint:
    return parse_endpoints([{"name": "e", **fields}], "test")[0]


async def _both(base_url: str, endpoint: Endpoint, token: str | None = None) -> list[Any]:
    """Send ``endpoint`` once with each sender; the (status, kind) each one gave."""
    secret = SecretStr(token) if token else None
    results = []
    for sender_class in (FastSender, AiohttpSender):
        sender = sender_class(base_url, secret, max_connections=4, timeout_s=5.0)
        try:
            results.append(await sender.send(endpoint))
        finally:
            await sender.close()
    return results


async def test_the_request_matches_what_aiohttp_sends(origin: tuple[str, Seen]) -> None:
    url, seen = origin
    endpoints = [
        _endpoint(path="/echo?q=1&r=%20x", bearer=True),
        _endpoint(method="POST", path="/echo", body={"json": {"a": [1, "é"], "b": None}}),
        _endpoint(method="PUT", path="/echo", body={"form": {"k": "v w", "x": "&"}}),
        _endpoint(method="DELETE", path="/echo", headers={"X-Trace": "abc"}),
    ]
    for endpoint in endpoints:
        assert await _both(url + "/api", endpoint, TOKEN) == [(200, None), (200, None)]
    fast, slow = seen.requests[0::2], seen.requests[1::2]
    assert len(fast) == len(slow) == 4
    for mine, theirs in zip(fast, slow, strict=True):
        for key in ("method", "path", "body"):
            assert mine[key] == theirs[key], key
        for header in (
            "Host",
            "Authorization",
            "Content-Type",
            "Content-Length",
            "X-Trace",
            "Accept",
            "Accept-Encoding",
        ):
            assert mine["headers"].get(header) == theirs["headers"].get(header), header
    assert fast[0]["path"] == "/api/echo?q=1&r=%20x"
    assert fast[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(fast[1]["body"]) == {"a": [1, "é"], "b": None}


@pytest.mark.parametrize(
    ("status", "method", "then"),
    [(301, "POST", "GET"), (302, "POST", "GET"), (303, "PUT", "GET"), (307, "POST", "POST"),
     (308, "PATCH", "PATCH"), (302, "HEAD", "HEAD")],
)  # fmt: skip
async def test_redirects_are_followed_like_aiohttp(
    origin: tuple[str, Seen], status: int, method: str, then: str
) -> None:
    url, seen = origin
    body = None if method == "HEAD" else {"json": {"n": 1}}
    endpoint = _endpoint(method=method, path=f"/hop/{status}?to=/api/echo", body=body)
    assert await _both(url + "/api", endpoint) == [(200, None), (200, None)]
    fast, slow = seen.requests[:2], seen.requests[2:]
    assert [r["method"] for r in fast] == [method, then]
    assert [(r["method"], r["path"], r["body"]) for r in fast] == [
        (r["method"], r["path"], r["body"]) for r in slow
    ]


async def test_a_redirect_loop_is_an_error_not_a_hang(origin: tuple[str, Seen]) -> None:
    url, seen = origin
    sender = FastSender(url, None, max_connections=2, timeout_s=5.0)
    try:
        assert await sender.send(_endpoint(path="/api/loop")) == (None, "protocol_error")
    finally:
        await sender.close()
    assert len(seen.requests) == 11  # the request and 10 hops, as aiohttp's max_redirects


async def test_a_redirect_to_another_origin_leaves_the_token_behind(
    origin: tuple[str, Seen], elsewhere: tuple[str, Seen]
) -> None:
    url, seen = origin
    sender = FastSender(url, SecretStr(TOKEN), max_connections=2, timeout_s=5.0)
    try:
        assert await sender.send(_endpoint(path="/api/away", bearer=True)) == (200, None)
    finally:
        await sender.close()
    assert seen.requests[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"
    landed = elsewhere[1].requests
    assert [r["path"] for r in landed] == ["/landed"]
    assert "Authorization" not in landed[0]["headers"]
