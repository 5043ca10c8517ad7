"""How the HTTP mix puts one endpoint's request on the wire, and what came back.

Two senders answer `send(endpoint) -> (status, error kind)`:

- `FastSender` (the default, `client: fast`): the lean HTTP/1.1 client of
  generator/protocols/http1.py, with each endpoint's request bytes built once. Redirects are
  followed as aiohttp and k6 follow them (up to 10; 301/302/303 turn into a GET without a
  body, 307/308 keep the method and body); a hop to another origin goes through aiohttp, and the
  Authorization header is not sent there.
- `AiohttpSender` (`client: aiohttp`): aiohttp's client for every request, for targets that need
  what the lean client does not do (proxies from the environment, cookies, HTTP/2 upgrades).

Both count time the same way: from the iteration's intended start to the end of the body, taken
by the caller.
"""

from __future__ import annotations

import json
import ssl
from typing import Any, Final, Protocol
from urllib.parse import urlencode, urljoin, urlsplit

import aiohttp
from pydantic import SecretStr

from generator.protocols.http1 import Http1Client, Http1Error, build_request
from generator.workloads.endpoints import Endpoint

MAX_REDIRECTS: Final = 10
REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
# Prebuilt requests for redirect targets, per sender; bounded because Location may vary.
_MAX_HOPS_CACHED: Final = 256

Sent = tuple[int | None, str | None]  # (status, error kind); one of them is None


def classify_client_error(exc: BaseException) -> str:
    """The error kind of a failed aiohttp request (DESIGN.md taxonomy: connect-time vs after)."""
    if isinstance(exc, TimeoutError):  # aiohttp's timeouts subclass it too
        return "timeout"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "refused"
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError):
        return "closed"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "closed"
    return "protocol_error"


class Sender(Protocol):
    async def send(self, endpoint: Endpoint) -> Sent: ...

    async def get(self, path: str) -> Sent: ...

    async def close(self) -> None: ...


def endpoint_headers(endpoint: Endpoint, token: SecretStr | None) -> dict[str, str]:
    headers = dict(endpoint.headers)
    if endpoint.bearer and token is not None:
        headers["Authorization"] = f"Bearer {token.get_secret_value()}"
    return headers


def endpoint_body(endpoint: Endpoint) -> tuple[bytes | None, str | None]:
    """The body's bytes and Content-Type, encoded as aiohttp encodes `json=` and `data=`."""
    if endpoint.body is None:
        return None, None
    if endpoint.body.form is not None:
        return urlencode(endpoint.body.form).encode(), "application/x-www-form-urlencoded"
    return json.dumps(endpoint.body.json_doc).encode(), "application/json"


class AiohttpSender:
    """Every request through one aiohttp session."""

    def __init__(
        self, base_url: str, token: SecretStr | None, *, max_connections: int, timeout_s: float
    ) -> None:
        self._base_url = base_url
        self._token = token
        connector = aiohttp.TCPConnector(limit=max_connections, limit_per_host=max_connections)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            cookie_jar=aiohttp.DummyCookieJar(),  # no state shared between virtual users
        )

    async def send(self, endpoint: Endpoint) -> Sent:
        headers = endpoint_headers(endpoint, self._token)
        args: dict[str, Any] = {"headers": headers}
        if endpoint.body is not None:
            if endpoint.body.form is not None:
                args["data"] = endpoint.body.form
            else:
                args["json"] = endpoint.body.json_doc
        return await self.request(endpoint.method, self._base_url + endpoint.path, **args)

    async def get(self, path: str) -> Sent:
        return await self.request("GET", self._base_url + path)

    async def request(self, method: str, url: str, **args: Any) -> Sent:
        try:
            async with self._session.request(method, url, **args) as response:
                await response.read()
                return response.status, None
        except (aiohttp.ClientError, TimeoutError) as exc:
            return None, classify_client_error(exc)

    async def close(self) -> None:
        await self._session.close()


class FastSender:
    """Requests through the lean HTTP/1.1 client, each endpoint's bytes built once."""

    def __init__(
        self, base_url: str, token: SecretStr | None, *, max_connections: int, timeout_s: float
    ) -> None:
        parts = urlsplit(base_url)
        secure = parts.scheme == "https"
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._base_path = parts.path.rstrip("/")
        self._host_header = parts.netloc.rpartition("@")[2]  # never send userinfo as Host
        host = parts.hostname or ""
        port = parts.port or (443 if secure else 80)
        self._token = token
        self._timeout_s = timeout_s
        self._max_connections = max_connections
        self._client = Http1Client(
            host,
            port,
            max_connections=max_connections,
            timeout_s=timeout_s,
            ssl=ssl.create_default_context() if secure else None,
            server_hostname=host if secure else None,
        )
        self._built: dict[str, bytes] = {}  # endpoint name → request bytes
        self._hops: dict[tuple[str, str, str], bytes] = {}
        self._elsewhere: AiohttpSender | None = None  # for redirects to another origin

    def _build(
        self,
        method: str,
        path: str,
        endpoint: Endpoint,
        body: bytes | None,
        content_type: str | None,
    ) -> bytes:
        headers = endpoint_headers(endpoint, self._token)
        if content_type is not None:
            headers.setdefault("Content-Type", content_type)
        return build_request(method, self._host_header, path, headers, body)

    def _raw(self, endpoint: Endpoint) -> bytes:
        raw = self._built.get(endpoint.name)
        if raw is None:
            path = self._base_path + endpoint.path
            raw = self._build(endpoint.method, path, endpoint, *endpoint_body(endpoint))
            self._built[endpoint.name] = raw
        return raw

    async def send(self, endpoint: Endpoint) -> Sent:
        head = endpoint.method == "HEAD"
        try:
            result = await self._client.request(self._raw(endpoint), head=head)
        except Http1Error as exc:
            return None, exc.kind
        if result.status in REDIRECTS and result.location is not None:
            url = urljoin(self._origin + self._base_path + endpoint.path, result.location)
            return await self._follow(endpoint, result.status, url)
        return result.status, None

    async def get(self, path: str) -> Sent:
        raw = build_request("GET", self._host_header, self._base_path + path, {}, None)
        try:
            return (await self._client.request(raw)).status, None
        except Http1Error as exc:
            return None, exc.kind

    async def _follow(self, endpoint: Endpoint, status: int, url: str) -> Sent:
        method = endpoint.method
        body, content_type = endpoint_body(endpoint)
        for _ in range(MAX_REDIRECTS):
            if status in (301, 302, 303) and method != "HEAD":
                method, body, content_type = "GET", None, None
            target = urlsplit(url)
            if f"{target.scheme}://{target.netloc}" != self._origin:
                # Another origin: aiohttp follows from there on, without our token.
                headers = {"Content-Type": content_type} if content_type else {}
                return await self._aiohttp().request(method, url, data=body, headers=headers)
            path = target.path + (f"?{target.query}" if target.query else "")
            raw = self._hop(method, path, endpoint, body, content_type)
            try:
                result = await self._client.request(raw, head=method == "HEAD")
            except Http1Error as exc:
                return None, exc.kind
            if result.status not in REDIRECTS or result.location is None:
                return result.status, None
            status, url = result.status, urljoin(url, result.location)
        return None, "protocol_error"  # a redirect loop, as aiohttp's TooManyRedirects

    def _hop(
        self,
        method: str,
        path: str,
        endpoint: Endpoint,
        body: bytes | None,
        content_type: str | None,
    ) -> bytes:
        key = (endpoint.name, method, path)
        raw = self._hops.get(key)
        if raw is None:
            raw = self._build(method, path, endpoint, body, content_type)
            if len(self._hops) >= _MAX_HOPS_CACHED:
                self._hops.clear()
            self._hops[key] = raw
        return raw

    def _aiohttp(self) -> AiohttpSender:
        if self._elsewhere is None:
            self._elsewhere = AiohttpSender(
                "", None, max_connections=self._max_connections, timeout_s=self._timeout_s
            )
        return self._elsewhere

    async def close(self) -> None:
        await self._client.close()
        if self._elsewhere is not None:
            await self._elsewhere.close()


__all__ = [
    "MAX_REDIRECTS",
    "AiohttpSender",
    "FastSender",
    "Sender",
    "classify_client_error",
    "endpoint_body",
    "endpoint_headers",
]
