"""The webhook storm against a small real aiohttp app on 127.0.0.1: Twilio's documented signature
example, templates, a 100-in-2-s storm that arrives complete and signed, and 429s counted
exactly as the app's limiter gave them."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from pydantic import ValidationError

from generator.workloads.twilio_sign import SIGNATURE_HEADER, twilio_signature
from generator.workloads.webhooks import WebhookConfig, WebhookWorkload, parse_template, render
from tests.generator.workloads.fake_store import RecordingStore, make_ctx

AUTH_TOKEN = "twilio-test-auth-token"


def test_signature_matches_twilios_documented_example() -> None:
    params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ]
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert twilio_signature("12345", url, list(reversed(params))) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_templates_substitute_and_reject_unknown_placeholders() -> None:
    pairs = parse_template("ConferenceSid=test_{i}&CallSid={uuid}&Empty=")
    assert render(pairs, 7, "u-1") == [
        ("ConferenceSid", "test_7"),
        ("CallSid", "u-1"),
        ("Empty", ""),
    ]
    with pytest.raises(ValidationError) as info:
        WebhookConfig(url="ftp://x", template="a={nope}&b")
    text = str(info.value)
    assert "http://" in text
    assert "nope" in text


class Hooks:
    def __init__(self, allow: int | None) -> None:
        self.allow = allow
        self.received: list[dict[str, str]] = []
        self.bad_signatures = 0
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        if self.allow is not None and len(self.received) >= self.allow:
            return web.Response(status=429)
        signature = request.headers.get(SIGNATURE_HEADER)
        expected = twilio_signature(AUTH_TOKEN, str(request.url), sorted(form.items()))
        if signature != expected:
            self.bad_signatures += 1
            return web.Response(status=403)
        self.received.append({k: str(v) for k, v in form.items()})
        return web.Response(text="<Response/>", content_type="text/xml")


async def _serve(hooks: Hooks) -> AsyncIterator[Hooks]:
    app = web.Application()
    app.router.add_post("/twilio/status", hooks.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    hooks.url = f"http://{host}:{port}/twilio/status"
    yield hooks
    await runner.cleanup()


@pytest.fixture
async def open_hooks() -> AsyncIterator[Hooks]:
    async for hooks in _serve(Hooks(allow=None)):
        yield hooks


@pytest.fixture
async def limited_hooks() -> AsyncIterator[Hooks]:
    async for hooks in _serve(Hooks(allow=30)):
        yield hooks


async def storm(
    workload: WebhookWorkload, store: RecordingStore, count: int, within_s: float
) -> None:
    """A minimal open model: iteration i starts at t0 + i * within/count, whatever came before."""
    rng = random.Random(3)
    await workload.setup()
    t0 = time.monotonic()
    tasks = []
    for i in range(count):
        start = t0 + i * within_s / count
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        ctx = make_ctx(store, iteration=i, start=start, rng=rng)
        tasks.append(asyncio.create_task(workload.iteration(ctx)))
    await asyncio.gather(*tasks)
    await workload.teardown()


@pytest.mark.timeout(30)
async def test_a_storm_of_100_in_2_s_arrives_complete_and_signed(open_hooks: Hooks) -> None:
    config = WebhookConfig(
        url=open_hooks.url,
        template="ConferenceSid=test_{i}&StatusCallbackEvent=participant-join&CallSid={uuid}",
        twilio_auth_token=AUTH_TOKEN,
    )
    store = RecordingStore()
    began = time.monotonic()
    await storm(WebhookWorkload(config), store, 100, 2.0)
    assert time.monotonic() - began < 10
    assert open_hooks.bad_signatures == 0
    sids = sorted(int(r["ConferenceSid"].removeprefix("test_")) for r in open_hooks.received)
    assert sids == list(range(100))
    assert len({r["CallSid"] for r in open_hooks.received}) == 100
    assert store.total("webhooks_total", outcome="accepted") == 100
    assert store.total("webhooks_total", outcome="rate_limited") == 0
    assert len(store.of("webhooks_total", outcome="rate_limited")) == 1  # the zero, for thresholds
    assert len(store.of("webhook_duration", outcome="accepted")) == 100
    assert AUTH_TOKEN not in store.dump()


@pytest.mark.timeout(30)
async def test_429s_are_counted_exactly_as_the_limiter_gave_them(limited_hooks: Hooks) -> None:
    store = RecordingStore()
    config = WebhookConfig(url=limited_hooks.url, twilio_auth_token=AUTH_TOKEN)
    await storm(WebhookWorkload(config), store, 80, 0.5)
    assert store.total("webhooks_total", outcome="accepted") == 30
    assert store.total("webhooks_total", outcome="rate_limited") == 50
    assert store.total("webhook_429") == 50
    assert store.total("errors_total", kind="http_429") == 50


async def test_unsigned_requests_are_rejected_by_a_verifying_app(open_hooks: Hooks) -> None:
    store = RecordingStore()
    await storm(WebhookWorkload(WebhookConfig(url=open_hooks.url)), store, 5, 0.1)
    assert store.total("webhooks_total", outcome="rejected") == 5
    assert store.total("errors_total", kind="http_403") == 5
