"""Headers and TLS on the WebSocket workloads, against real websockets servers on 127.0.0.1:
header templates expand from the environment only and a missing variable is a clear error; the
scenario snapshot keeps templates, never values; a `wss://` server with a certificate from a CA
made in the test is reached with `ca_file`, refused as `tls` without it, reached with `insecure`;
the Realtime client sends `Authorization: Bearer $OPENAI_API_KEY` unless told otherwise."""

from __future__ import annotations

import contextlib
import random
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from pydantic import ValidationError
from websockets.asyncio.server import ServerConnection, serve

from generator.errors import InvalidInput
from generator.protocols import ClientSettings, make_client
from generator.protocols.transport import (
    REDACTED,
    expand_headers,
    header_pairs,
    parse_header,
    with_bearer_from_env,
)
from generator.scenario import scenario_from_dict
from generator.workloads.call import CallConfig, CallWorkload
from generator.workloads.call_burst import CallBurstConfig, CallBurstWorkload
from generator.workloads.connections import ConnectionsConfig, ConnectionsWorkload
from generator.workloads.registry import build_workloads
from tests.generator.workloads.fake_store import RecordingStore, make_ctx


class Recorder:
    """Accepts every handshake, notes its headers, reads until the client closes."""

    def __init__(self) -> None:
        self.headers: list[dict[str, list[str]]] = []
        self.url = ""

    async def handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        seen: dict[str, list[str]] = {}
        for name, value in ws.request.headers.raw_items():
            seen.setdefault(name.lower(), []).append(value)
        self.headers.append(seen)
        async for _ in ws:  # ends when the client closes
            pass


@contextlib.asynccontextmanager
async def _serving(tls: ssl.SSLContext | None) -> AsyncIterator[Recorder]:
    recorder = Recorder()
    async with serve(recorder.handler, "127.0.0.1", 0, ssl=tls) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        recorder.url = f"{'wss' if tls else 'ws'}://127.0.0.1:{port}/ws"
        yield recorder


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
async def tls_server(ca: trustme.CA) -> AsyncIterator[Recorder]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    async with _serving(context) as recorder:
        yield recorder


@pytest.fixture
async def plain_server() -> AsyncIterator[Recorder]:
    async with _serving(None) as recorder:
        yield recorder


# --- header templates ---------------------------------------------------------------------


def test_only_braced_variables_expand_and_only_from_the_environment() -> None:
    pairs = header_pairs(["Authorization: Bearer ${TOKEN}", "X-Literal: $TOKEN $(id) ~"])
    env = {"TOKEN": "s3cr3t-value"}
    assert expand_headers(pairs, "here", env) == (
        ("Authorization", "Bearer s3cr3t-value"),
        ("X-Literal", "$TOKEN $(id) ~"),
    )


def test_a_missing_variable_names_the_header_and_the_variable() -> None:
    pairs = header_pairs({"X-Api-Key": "${CALLBENCH_TEST_UNSET_KEY}", "X-Ok": "${HOME_X}"})
    with pytest.raises(InvalidInput) as caught:
        expand_headers(pairs, "workloads.calls.config.headers", {"HOME_X": "fine"})
    message = str(caught.value)
    assert "X-Api-Key" in message
    assert "CALLBENCH_TEST_UNSET_KEY" in message
    assert "X-Ok" not in message


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("no colon here", "Name: value"),
        ("Bad Name: v", "not a valid header name"),
        ("X-A: ${NOT CLOSED", "unclosed"),
        ("X-A: ${1BAD}", "not an environment variable name"),
    ],
)
def test_bad_header_text_is_refused(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_header(text)


def test_yaml_numbers_are_header_text_and_other_types_are_refused() -> None:
    assert header_pairs({"X-Version": 2}) == (("X-Version", "2"),)
    for bad in ({"X-Flag": True}, {"X-List": ["a"]}, "X-A: b", [["X-A"]]):
        with pytest.raises(ValueError, match="header"):
            header_pairs(bad)


def test_the_scenario_snapshot_keeps_templates_and_redacts_literals() -> None:
    scenario = scenario_from_dict(
        {
            "workloads": {
                "calls": {
                    "type": "calls",
                    "config": {
                        "url": "ws://127.0.0.1:1/ws",
                        "headers": {
                            "Authorization": "Bearer ${TOKEN}",
                            "X-Api-Key": "typed-in-the-clear",
                        },
                    },
                    "load": {"executor": "shared-iterations", "vus": 1, "iterations": 1},
                }
            }
        }
    )
    dumped = scenario.model_dump(mode="json")["workloads"]["calls"]["config"]["headers"]
    assert dumped == [["Authorization", "Bearer ${TOKEN}"], ["X-Api-Key", REDACTED]]
    # The object itself keeps what it was given: the workload is built from it.
    assert scenario.workloads["calls"].config["headers"]["X-Api-Key"] == "typed-in-the-clear"


def test_a_scenario_workload_with_an_unset_variable_fails_to_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CALLBENCH_TEST_UNSET_TOKEN", raising=False)
    scenario = scenario_from_dict(
        {
            "workloads": {
                "held": {
                    "type": "connections",
                    "config": {
                        "url": "ws://127.0.0.1:1/ws",
                        "headers": ["Authorization: Bearer ${CALLBENCH_TEST_UNSET_TOKEN}"],
                    },
                    "load": {"executor": "constant-vus", "vus": 1, "duration": "1s"},
                }
            }
        }
    )
    with pytest.raises(InvalidInput) as caught:
        build_workloads(scenario)
    message = str(caught.value)
    assert "workloads.held.config.headers" in message
    assert "Authorization" in message
    assert "CALLBENCH_TEST_UNSET_TOKEN" in message


def test_tls_options_need_a_wss_url_and_exclude_each_other(ca_file: str) -> None:
    with pytest.raises(ValidationError, match="wss://"):
        ConnectionsConfig(url="ws://127.0.0.1:1/ws", insecure=True)
    with pytest.raises(ValidationError, match="cannot be combined"):
        CallConfig(url="wss://127.0.0.1:1/ws", ca_file=ca_file, insecure=True)


def test_an_unreadable_ca_file_is_invalid_input(tmp_path: Path) -> None:
    not_pem = tmp_path / "junk.pem"
    not_pem.write_text("not a certificate\n")
    for path in (str(tmp_path / "missing.pem"), str(not_pem)):
        with pytest.raises(InvalidInput, match="ca_file"):
            ConnectionsWorkload(ConnectionsConfig(url="wss://127.0.0.1:1/ws", ca_file=path))


# --- TLS with a private CA ---------------------------------------------------------------


async def _hold_once(config: ConnectionsConfig) -> RecordingStore:
    store = RecordingStore()
    workload = ConnectionsWorkload(config)
    await workload.iteration(
        make_ctx(store, iteration=0, start=time.monotonic(), rng=random.Random(1))
    )
    return store


async def test_ca_file_reaches_a_private_certificate(tls_server: Recorder, ca_file: str) -> None:
    store = await _hold_once(
        ConnectionsConfig(url=tls_server.url, hold_min_s=0.1, hold_max_s=0.1, ca_file=ca_file)
    )
    assert len(tls_server.headers) == 1
    assert store.total("errors_total", kind="tls") == 0
    assert len(store.of("ws_connecting")) == 1


async def test_without_the_ca_the_connection_fails_as_tls(tls_server: Recorder) -> None:
    store = await _hold_once(ConnectionsConfig(url=tls_server.url, hold_min_s=0.1, hold_max_s=0.1))
    assert tls_server.headers == []
    assert store.total("errors_total", kind="tls") == 1
    assert store.total("ws_sessions", outcome="failed") == 1


async def test_insecure_skips_verification(tls_server: Recorder) -> None:
    store = await _hold_once(
        ConnectionsConfig(url=tls_server.url, hold_min_s=0.1, hold_max_s=0.1, insecure=True)
    )
    assert len(tls_server.headers) == 1
    assert store.total("errors_total", kind="tls") == 0


async def test_a_call_burst_uses_the_ca_and_the_headers(
    tls_server: Recorder, ca_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLBENCH_TEST_BURST_TOKEN", "burst-token-4711")
    config = CallBurstConfig(
        url=tls_server.url,
        ca_file=ca_file,
        headers=header_pairs(["Authorization: Bearer ${CALLBENCH_TEST_BURST_TOKEN}"]),
        ready_timeout_s=0.3,
    )
    store = RecordingStore()
    await CallBurstWorkload(config).iteration(
        make_ctx(store, iteration=0, start=time.monotonic(), rng=random.Random(2))
    )
    assert tls_server.headers[0]["authorization"] == ["Bearer burst-token-4711"]
    assert store.total("errors_total", kind="tls") == 0
    assert store.total("call_requests_total", outcome="timed_out") == 1  # no session.ready


@pytest.mark.parametrize("protocol", ["native", "twilio", "realtime"])
async def test_every_call_protocol_sends_the_headers_over_the_ca(
    tls_server: Recorder, ca_file: str, protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLBENCH_TEST_CALL_TOKEN", "call-token-0815")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    config = CallConfig(
        url=tls_server.url,
        protocol=protocol,  # type: ignore[arg-type]
        ca_file=ca_file,
        headers=header_pairs(
            ["X-Call-Token: ${CALLBENCH_TEST_CALL_TOKEN}", "X-Twice: a", "X-Twice: b"]
        ),
    )
    headers, tls = config.transport("calls")
    client = make_client(
        config.protocol, ClientSettings(url=config.url, headers=headers, ssl=tls), random.Random(3)
    )
    try:
        await client.connect()
    finally:
        await client.close()
    seen = tls_server.headers[0]
    assert seen["x-call-token"] == ["call-token-0815"]
    assert seen["x-twice"] == ["a", "b"]


async def test_a_call_without_the_ca_fails_as_tls(tls_server: Recorder) -> None:
    store = RecordingStore()
    workload = CallWorkload(CallConfig(url=tls_server.url, turns=1))
    await workload.iteration(
        make_ctx(store, iteration=0, start=time.monotonic(), rng=random.Random(4))
    )
    assert store.total("errors_total", kind="tls") == 1
    assert store.total("calls_total", outcome="failed") == 1
    assert tls_server.headers == []


async def test_a_call_with_the_ca_gets_past_tls(tls_server: Recorder, ca_file: str) -> None:
    store = RecordingStore()
    config = CallConfig(
        url=tls_server.url,
        turns=1,
        ca_file=ca_file,
        greeting_timeout_s=0.3,
        response_timeout_s=0.3,
    )
    await CallWorkload(config).iteration(
        make_ctx(store, iteration=0, start=time.monotonic(), rng=random.Random(5))
    )
    assert len(tls_server.headers) == 1
    # The server never speaks: the call gets past TLS and then fails for want of an answer.
    assert store.total("calls_total", outcome="failed") == 1
    assert store.total("errors_total") == 1
    assert store.total("errors_total", kind="tls") == 0


# --- the Realtime client's bearer token ---------------------------------------------------


def test_bearer_from_env_only_when_set_and_not_given() -> None:
    assert with_bearer_from_env((), env={}) == ()
    assert with_bearer_from_env((), env={"OPENAI_API_KEY": "sk-x"}) == (
        ("Authorization", "Bearer sk-x"),
    )
    given = (("authorization", "Bearer mine"),)
    assert with_bearer_from_env(given, env={"OPENAI_API_KEY": "sk-x"}) == given


async def test_the_realtime_client_sends_the_openai_key(
    plain_server: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-realtime-key")
    client = make_client("realtime", ClientSettings(url=plain_server.url), random.Random(6))
    try:
        await client.connect()
    finally:
        await client.close()
    assert plain_server.headers[0]["authorization"] == ["Bearer sk-test-realtime-key"]


@pytest.mark.parametrize("protocol", ["native", "twilio"])
async def test_other_protocols_do_not_send_the_openai_key(
    plain_server: Recorder, protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-for-backends")
    client = make_client(protocol, ClientSettings(url=plain_server.url), random.Random(7))  # type: ignore[arg-type]
    try:
        await client.connect()
    finally:
        await client.close()
    assert "authorization" not in plain_server.headers[0]


async def test_an_explicit_authorization_wins_over_the_openai_key(
    plain_server: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-realtime-key")
    settings = ClientSettings(url=plain_server.url, headers=(("Authorization", "Bearer other"),))
    client = make_client("realtime", settings, random.Random(8))
    try:
        await client.connect()
    finally:
        await client.close()
    assert plain_server.headers[0]["authorization"] == ["Bearer other"]
