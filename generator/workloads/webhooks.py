"""The webhook storm: each iteration POSTs one form-encoded webhook built from a template, with
per-request values, optionally signed as Twilio signs (`X-Twilio-Signature`). It is meant to run
under an open model (constant arrival rate: N webhooks in S seconds), so latencies count from the
iteration's scheduled start.

Template placeholders: `{i}` (a running number from 0, in send order) and `{uuid}` (drawn from
the iteration's seeded RNG, so the same seed sends the same ids).

Metrics (tags also carry `workload`):
  trend   `webhook_duration` {outcome}  ms from scheduled start to the end of the answer
  counter `webhooks_total`   {outcome: accepted (2xx) | rate_limited (429) | rejected (other
                             status) | error (no answer)}
  counter `webhook_429`      429 answers, on their own for the seed's "no 429" criterion
  rate    `webhook_success`  accepted out of sent
  counter `errors_total`     {kind}  `http_<status>`, `timeout`, `refused`, `closed`, ...
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from generator.errors import InvalidInput
from generator.load.config import problems_of
from generator.metrics.store import MetricsStore
from generator.workloads.base import IterationContext
from generator.workloads.http_senders import classify_client_error
from generator.workloads.probe import probe_tcp
from generator.workloads.twilio_sign import SIGNATURE_HEADER, TWILIO_TOKEN_ENV, twilio_signature

DEFAULT_TEMPLATE: Final = "ConferenceSid=test_{i}&StatusCallbackEvent=participant-join"
PLACEHOLDERS: Final = frozenset({"i", "uuid"})
OUTCOMES: Final = ("accepted", "rate_limited", "rejected", "error")

# The seed's criterion for a storm: no 429 at all, and 95 % answered within 5 s.
WEBHOOK_THRESHOLD_PRESET: Final[tuple[str, ...]] = (
    "webhooks_total{outcome:rate_limited}:count==0",
    "webhook_duration:p(95)<5000",
)

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def parse_template(template: str) -> list[tuple[str, str]]:
    """The template's form fields, placeholders still in; ValueError listing what is wrong."""
    problems: list[str] = []
    unknown = sorted({m for m in _PLACEHOLDER.findall(template) if m not in PLACEHOLDERS})
    if unknown:
        problems.append(f"unknown placeholders {unknown} (known: {{i}}, {{uuid}})")
    try:
        pairs = parse_qsl(template, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        problems.append(f"not a form body like 'a=1&b=2' (got {template!r})")
        pairs = []
    if problems:
        raise ValueError("; ".join(problems))
    return pairs


def render(pairs: list[tuple[str, str]], i: int, uid: str) -> list[tuple[str, str]]:
    """The fields of request number ``i``."""
    return [(key, value.replace("{i}", str(i)).replace("{uuid}", uid)) for key, value in pairs]


class WebhookConfig(BaseModel):
    """One webhook endpoint and the body to send it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    template: str = DEFAULT_TEMPLATE
    twilio_auth_token: SecretStr | None = None
    timeout_s: float = Field(default=10.0, gt=0)
    max_connections: int = Field(default=100, ge=1)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https:// (got {value!r})")
        return value

    @field_validator("template")
    @classmethod
    def _template(cls, value: str) -> str:
        parse_template(value)
        return value


class WebhookWorkload:
    """One webhook per iteration over one shared aiohttp session."""

    def __init__(
        self,
        config: WebhookConfig,
        name: str = "webhooks",
        *,
        store: MetricsStore | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.config = config
        self._pairs = parse_template(config.template)
        self._clock = clock
        self._store = store
        self._zeroed = False
        self._session: aiohttp.ClientSession | None = None

    async def setup(self) -> None:
        await probe_tcp(self.config.url)
        connector = aiohttp.TCPConnector(
            limit=self.config.max_connections, limit_per_host=self.config.max_connections
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.config.timeout_s),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        if self._store is not None:
            self._zero(self._store)

    async def iteration(self, ctx: IterationContext) -> None:
        self._zero(ctx.store)
        i = ctx.iteration  # numbered across the whole run, also when --workers splits it
        uid = str(uuid.UUID(int=ctx.rng.getrandbits(128), version=4))
        fields = render(self._pairs, i, uid)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if self.config.twilio_auth_token is not None:
            token = self.config.twilio_auth_token.get_secret_value()
            headers[SIGNATURE_HEADER] = twilio_signature(token, self.config.url, fields)
        if self._session is None:
            raise RuntimeError("WebhookWorkload.setup() was not awaited")
        status: int | None = None
        kind: str | None = None
        try:
            async with self._session.post(
                self.config.url, data=urlencode(fields), headers=headers
            ) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            kind = classify_client_error(exc)
        elapsed_ms = (self._clock() - ctx.intended_start) * 1000.0
        outcome = _outcome(status)
        tags = {"workload": self.name}
        ctx.store.add_counter("webhooks_total", 1, {**tags, "outcome": outcome})
        ctx.store.add_rate("webhook_success", outcome == "accepted", tags)
        if status is not None or kind == "timeout":
            ctx.store.add_trend("webhook_duration", elapsed_ms, {**tags, "outcome": outcome})
        if status == 429:
            ctx.store.add_counter("webhook_429", 1, tags)
        if status is not None and outcome != "accepted":
            kind = f"http_{status}"
        if kind is not None:
            ctx.store.add_counter("errors_total", 1, {**tags, "kind": kind})

    async def teardown(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _zero(self, store: MetricsStore) -> None:
        # Thresholds such as `webhooks_total{outcome:rate_limited}:count==0` need the series to
        # exist even when nothing was rate limited.
        if self._zeroed:
            return
        self._zeroed = True
        for outcome in OUTCOMES:
            store.add_counter("webhooks_total", 0, {"workload": self.name, "outcome": outcome})
        store.add_counter("webhook_429", 0, {"workload": self.name})


def _outcome(status: int | None) -> str:
    if status is None:
        return "error"
    if 200 <= status < 300:
        return "accepted"
    if status == 429:
        return "rate_limited"
    return "rejected"


def build_webhooks(name: str, config: Mapping[str, Any], seed: int = 0) -> WebhookWorkload:
    """The workload a scenario's `type: webhooks` entry describes. The Twilio auth token may
    come from $TWILIO_AUTH_TOKEN (`signed: true`) so that it stays out of scenario files."""
    data = dict(config)
    signed = data.pop("signed", False)
    if signed and "twilio_auth_token" not in data:
        token = os.environ.get(TWILIO_TOKEN_ENV)
        if not token:
            raise InvalidInput(f"workloads.{name}.config", [f"signed: ${TWILIO_TOKEN_ENV} unset"])
        data["twilio_auth_token"] = token
    try:
        parsed = WebhookConfig.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(f"workloads.{name}.config", problems_of(exc)) from None
    return WebhookWorkload(parsed, name=name)


__all__ = [
    "DEFAULT_TEMPLATE",
    "TWILIO_TOKEN_ENV",
    "WEBHOOK_THRESHOLD_PRESET",
    "WebhookConfig",
    "WebhookWorkload",
    "build_webhooks",
    "parse_template",
    "render",
]
