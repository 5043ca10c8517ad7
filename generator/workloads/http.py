"""The HTTP mix workload: each iteration sends one request, drawn from the endpoints file's weighted
mix with the iteration's seeded RNG, and records what came back.

Metrics (tags also carry `workload`):
  trend   `http_req_duration` {endpoint, method, status}  ms from the iteration's intended start to
          the end of the body (responses only: a transport failure has no status to tag)
  rate    `http_req_failed`   {endpoint}   true when the status was not expected or no answer came
  counter `http_reqs`         {endpoint}
  counter `errors_total`      {kind}       `http_<status>`, `timeout`, `refused`, `closed`,
                                           `protocol_error`
  rate    `health_check`      {phase: start|end}  GET of the health path around the run

The API token (`bearer: true`) is held as a SecretStr and goes into the Authorization header
only: never into a tag, an error message or a log line.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from generator.errors import InvalidInput, TargetUnreachable
from generator.load.config import problems_of
from generator.metrics.store import MetricsStore
from generator.workloads.base import IterationContext
from generator.workloads.endpoints import Endpoint, load_endpoints

# The seed's acceptance criteria for an endpoint mix, in the thresholds grammar.
HTTP_THRESHOLD_PRESET: Final[tuple[str, ...]] = (
    "http_req_duration:p(99)<1000",
    "http_req_failed:rate<0.05",
    "http_reqs:rate>=1",
)

BASE_URL_ENV: Final = "BASE_URL"
API_TOKEN_ENV: Final = "API_TOKEN"


class HttpConfig(BaseModel):
    """What the HTTP mix needs. ``base_url``/``api_token`` fall back to $BASE_URL/$API_TOKEN;
    ``endpoints`` may instead come from ``endpoints_file``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str | None = None
    endpoints: tuple[Endpoint, ...] = ()
    endpoints_file: str | None = None
    api_token: SecretStr | None = None
    health_path: str | None = "/health"
    timeout_s: float = Field(default=10.0, gt=0)
    max_connections: int = Field(default=100, ge=1)
    # k6's `sleep()` between requests: a VU waits a seeded random time in [min, max] after each.
    think_min_s: float = Field(default=0.0, ge=0)
    think_max_s: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _think_range(self) -> HttpConfig:
        if self.think_min_s > self.think_max_s:
            raise ValueError(f"think_min_s {self.think_min_s} > think_max_s {self.think_max_s}")
        return self


def classify_client_error(exc: BaseException) -> str:
    """The error kind of a failed request (DESIGN.md taxonomy: connect-time vs after connect)."""
    if isinstance(exc, TimeoutError):  # aiohttp's timeouts subclass it too
        return "timeout"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "refused"
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError):
        return "closed"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "closed"
    return "protocol_error"


def resolve_http_config(
    config: HttpConfig, env: Mapping[str, str] | None = None
) -> tuple[str, tuple[Endpoint, ...], SecretStr | None]:
    """Base URL, endpoints and token after the environment and the file are read; every problem
    at once as InvalidInput."""
    env = os.environ if env is None else env
    problems: list[str] = []
    base_url = (config.base_url or env.get(BASE_URL_ENV, "")).rstrip("/")
    if not base_url:
        problems.append(f"no base URL: give --url or set ${BASE_URL_ENV}")
    elif not base_url.startswith(("http://", "https://")):
        problems.append(f"base URL must start with http:// or https:// (got {base_url!r})")
    endpoints = config.endpoints
    if config.endpoints and config.endpoints_file:
        problems.append("give endpoints or endpoints_file, not both")
    elif config.endpoints_file:
        endpoints = load_endpoints(config.endpoints_file)  # raises with the file's own problems
    elif not endpoints:
        problems.append("no endpoints: give an endpoints file")
    token = config.api_token
    if token is None and env.get(API_TOKEN_ENV):
        token = SecretStr(env[API_TOKEN_ENV])
    needing = [endpoint.name for endpoint in endpoints if endpoint.bearer]
    if needing and token is None:
        problems.append(f"endpoints {needing} use bearer but ${API_TOKEN_ENV} is not set")
    if problems:
        raise InvalidInput("http workload", problems)
    return base_url, endpoints, token


class HttpWorkload:
    """One weighted request per iteration over one shared aiohttp session."""

    def __init__(
        self,
        config: HttpConfig,
        name: str = "http",
        *,
        store: MetricsStore | None = None,
        clock: Callable[[], float] = time.monotonic,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self._base_url, self._endpoints, self._token = resolve_http_config(config, env)
        self._weights = [endpoint.weight for endpoint in self._endpoints]
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        # setup() and teardown() get no context: health results wait here for a store.
        self._store = store
        self._pending: list[tuple[str, bool]] = []

    async def setup(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self.config.max_connections, limit_per_host=self.config.max_connections
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.config.timeout_s),
            cookie_jar=aiohttp.DummyCookieJar(),  # no state shared between virtual users
        )
        kind = await self._health("start")
        if kind in ("refused", "timeout"):
            await self._close_session()
            raise TargetUnreachable(
                f"{self._base_url}{self.config.health_path}: health check failed ({kind})"
            )

    async def iteration(self, ctx: IterationContext) -> None:
        self._bind(ctx.store)
        endpoint = ctx.rng.choices(self._endpoints, weights=self._weights)[0]
        tags = {"endpoint": endpoint.name, "workload": self.name}
        ctx.store.add_counter("http_reqs", 1, tags)
        status: int | None = None
        kind: str | None = None
        try:
            async with self._require_session().request(
                endpoint.method, self._base_url + endpoint.path, **self._request_args(endpoint)
            ) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            kind = classify_client_error(exc)
        elapsed_ms = (self._clock() - ctx.intended_start) * 1000.0
        if status is not None:
            ctx.store.add_trend(
                "http_req_duration",
                elapsed_ms,
                {**tags, "method": endpoint.method, "status": str(status)},
            )
            if not endpoint.expects(status):
                kind = f"http_{status}"
        ctx.store.add_rate("http_req_failed", kind is not None, tags)
        if kind is not None:
            ctx.store.add_counter("errors_total", 1, {"kind": kind, "workload": self.name})
        if self.config.think_max_s > 0:
            await asyncio.sleep(ctx.rng.uniform(self.config.think_min_s, self.config.think_max_s))

    async def teardown(self) -> None:
        try:
            if self._session is not None:
                await self._health("end")
        finally:
            await self._close_session()

    def _request_args(self, endpoint: Endpoint) -> dict[str, Any]:
        headers = dict(endpoint.headers)
        if endpoint.bearer and self._token is not None:
            headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        args: dict[str, Any] = {"headers": headers}
        if endpoint.body is not None:
            if endpoint.body.form is not None:
                args["data"] = endpoint.body.form
            else:
                args["json"] = endpoint.body.json_doc
        return args

    async def _health(self, phase: str) -> str | None:
        """GET the health path; record it; return the transport error kind, if any."""
        if self.config.health_path is None:
            return None
        kind: str | None = None
        ok = False
        try:
            async with self._require_session().get(
                self._base_url + self.config.health_path
            ) as response:
                await response.read()
                ok = 200 <= response.status < 300
        except (aiohttp.ClientError, TimeoutError) as exc:
            kind = classify_client_error(exc)
        self._pending.append((phase, ok))
        if self._store is not None:
            self._flush(self._store)
        return kind

    def _bind(self, store: MetricsStore) -> None:
        if self._store is None or self._pending:
            self._store = store
            self._flush(store)

    def _flush(self, store: MetricsStore) -> None:
        # Recorded when a store is at hand (the runner makes it after setup), not back-dated:
        # the run's timeline starts with the store.
        for phase, ok in self._pending:
            store.add_rate("health_check", ok, {"phase": phase, "workload": self.name})
        self._pending.clear()

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("HttpWorkload.setup() was not awaited")
        return self._session

    async def _close_session(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


def build_http(name: str, config: Mapping[str, Any], seed: int = 0) -> HttpWorkload:
    """The workload a scenario's `type: http` entry describes (seed unused: each iteration's RNG
    comes from the runner)."""
    try:
        parsed = HttpConfig.model_validate(dict(config))
    except ValidationError as exc:
        raise InvalidInput(f"workloads.{name}.config", problems_of(exc)) from None
    return HttpWorkload(parsed, name=name)


__all__ = [
    "HTTP_THRESHOLD_PRESET",
    "HttpConfig",
    "HttpWorkload",
    "build_http",
    "classify_client_error",
]
