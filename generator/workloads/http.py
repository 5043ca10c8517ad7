"""The HTTP mix workload: each iteration sends one request, drawn from the endpoints file's weighted
mix with the iteration's seeded RNG (a mix of one needs no draw), and records what came back.

Metrics (tags also carry `workload`):
  trend   `http_req_duration` {endpoint, method, status}  ms from the iteration's intended start to
          the end of the body (responses only: a transport failure has no status to tag)
  rate    `http_req_failed`   {endpoint}   true when the status was not expected or no answer came
  counter `http_reqs`         {endpoint}
  counter `errors_total`      {kind}       `http_<status>`, `timeout`, `refused`, `closed`,
                                           `tls`, `protocol_error`
  rate    `health_check`      {phase: start|end}  GET of the health path around the run
and, as for every workload, `iterations` and `iteration_duration` {workload}. Without think time
the workload records these two itself (`records_iterations`), all five of a request in one step
(a `Bundle` per endpoint and outcome: generator/metrics/bundle.py) when the response is in.

The API token (`bearer: true`) is held as a SecretStr and goes into the Authorization header
only: never into a tag, an error message or a log line.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from generator.errors import InvalidInput, TargetUnreachable
from generator.load.config import problems_of
from generator.metrics.bundle import Bundle, Metric
from generator.metrics.store import ITERATION_TREND, MetricsStore
from generator.workloads.base import IterationContext
from generator.workloads.endpoints import Endpoint, load_endpoints
from generator.workloads.http_senders import AiohttpSender, FastSender, Sender

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
    # fast: the lean HTTP/1.1 client (prebuilt request bytes); aiohttp: aiohttp's client, for
    # what the lean one does not do (proxies, cookies). See http_senders.py.
    client: Literal["fast", "aiohttp"] = "fast"
    # k6's `sleep()` between requests: a VU waits a seeded random time in [min, max] after each.
    think_min_s: float = Field(default=0.0, ge=0)
    think_max_s: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _think_range(self) -> HttpConfig:
        if self.think_min_s > self.think_max_s:
            raise ValueError(f"think_min_s {self.think_min_s} > think_max_s {self.think_max_s}")
        return self


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
    """One weighted request per iteration over one shared client (http_senders.py)."""

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
        self._sender: Sender | None = None
        # Tag dicts built once: the store only reads them.
        self._tags = {e.name: {"endpoint": e.name, "workload": name} for e in self._endpoints}
        self._status_tags: dict[tuple[str, int], dict[str, str]] = {}
        self._error_tags: dict[str, dict[str, str]] = {}
        # Think time comes after the response, so the runner's iteration_duration (which counts
        # it) cannot be recorded with the request's metrics: then the runner records it.
        self.records_iterations = config.think_max_s == 0
        # (endpoint, status or error kind) → the bundle of that outcome and whether it failed.
        self._bundles: dict[tuple[str, int | str], tuple[Bundle, bool]] = {}
        # setup() and teardown() get no context: health results wait here for a store.
        self._store = store
        self._pending: list[tuple[str, bool]] = []

    async def setup(self) -> None:
        sender_class = FastSender if self.config.client == "fast" else AiohttpSender
        self._sender = sender_class(
            self._base_url,
            self._token,
            max_connections=self.config.max_connections,
            timeout_s=self.config.timeout_s,
        )
        kind = await self._health("start")
        if kind in ("refused", "timeout", "tls"):
            await self._close_sender()
            raise TargetUnreachable(
                f"{self._base_url}{self.config.health_path}: health check failed ({kind})"
            )

    async def iteration(self, ctx: IterationContext) -> None:
        store = ctx.store
        if self._pending or self._store is None:
            self._bind(store)
        if len(self._endpoints) == 1:
            endpoint = self._endpoints[0]
        else:
            endpoint = ctx.rng.choices(self._endpoints, weights=self._weights)[0]
        if self.records_iterations:
            status, kind = await self._require_sender().send(endpoint)
            elapsed_ms = (self._clock() - ctx.intended_start) * 1000.0
            outcome = (endpoint.name, kind or status or 0)
            found = self._bundles.get(outcome)
            if found is None or found[0].store is not store:
                found = self._bundles[outcome] = self._bundle(store, endpoint, status, kind)
            found[0].add(elapsed_ms, found[1])
            return
        tags = self._tags[endpoint.name]
        store.add_counter("http_reqs", 1, tags)
        status, kind = await self._require_sender().send(endpoint)
        elapsed_ms = (self._clock() - ctx.intended_start) * 1000.0
        if status is not None:
            store.add_trend("http_req_duration", elapsed_ms, self._with_status(endpoint, status))
            if not endpoint.expects(status):
                kind = f"http_{status}"
        store.add_rate("http_req_failed", kind is not None, tags)
        if kind is not None:
            error_tags = self._error_tags.get(kind)
            if error_tags is None:
                error_tags = self._error_tags[kind] = {"kind": kind, "workload": self.name}
            store.add_counter("errors_total", 1, error_tags)
        if self.config.think_max_s > 0:
            await asyncio.sleep(ctx.rng.uniform(self.config.think_min_s, self.config.think_max_s))

    async def teardown(self) -> None:
        try:
            if self._sender is not None:
                await self._health("end")
        finally:
            await self._close_sender()

    def _bundle(
        self, store: MetricsStore, endpoint: Endpoint, status: int | None, kind: str | None
    ) -> tuple[Bundle, bool]:
        """What one outcome of ``endpoint`` records (the metrics of the docstring, each as the
        separate path records it); made on its first occurrence."""
        tags = self._tags[endpoint.name]
        iteration = {"workload": self.name}
        trends: list[Metric] = [(ITERATION_TREND, iteration)]
        if status is not None:
            trends.insert(0, ("http_req_duration", self._with_status(endpoint, status)))
            if not endpoint.expects(status):
                kind = f"http_{status}"
        counters: list[Metric] = [("http_reqs", tags), ("iterations", iteration)]
        if kind is not None:
            counters.append(("errors_total", {"kind": kind, "workload": self.name}))
        bundle = Bundle(store, counters, [("http_req_failed", tags)], trends)
        return bundle, kind is not None

    def _with_status(self, endpoint: Endpoint, status: int) -> dict[str, str]:
        found = self._status_tags.get((endpoint.name, status))
        if found is None:
            found = {**self._tags[endpoint.name], "method": endpoint.method, "status": str(status)}
            self._status_tags[(endpoint.name, status)] = found
        return found

    async def _health(self, phase: str) -> str | None:
        """GET the health path; record it; return the transport error kind, if any."""
        if self.config.health_path is None:
            return None
        status, kind = await self._require_sender().get(self.config.health_path)
        self._pending.append((phase, status is not None and 200 <= status < 300))
        if self._store is not None:
            self._flush(self._store)
        return kind

    def _bind(self, store: MetricsStore) -> None:
        self._store = store
        self._flush(store)

    def _flush(self, store: MetricsStore) -> None:
        # Recorded when a store is at hand (the runner makes it after setup), not back-dated:
        # the run's timeline starts with the store.
        for phase, ok in self._pending:
            store.add_rate("health_check", ok, {"phase": phase, "workload": self.name})
        self._pending.clear()

    def _require_sender(self) -> Sender:
        if self._sender is None:
            raise RuntimeError("HttpWorkload.setup() was not awaited")
        return self._sender

    async def _close_sender(self) -> None:
        if self._sender is not None:
            sender, self._sender = self._sender, None
            await sender.close()


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
]
