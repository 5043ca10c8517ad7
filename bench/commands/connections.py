"""`callbench connections`: WebSocket connection capacity, in one of two modes.

Hold (default): ramp to --target concurrent connections over --ramp, each held open for a random
time in --hold MIN-MAX (reading and discarding what the server sends, then close 1000), and keep
N open for MAX seconds after the ramp (a VU whose connection ends opens the next one).
  callbench connections --url ws://127.0.0.1:8080/ws/voice/{id} --target 200 --ramp 30s --hold 30-60

Burst (--rate R --duration S): R call requests per second (an open model): join (connect),
request (wait for `session.ready`), answer (the greeting's `response.started`), hang up; counted
as accepted, rejected (1013/capacity), timed_out or failed. --target caps the requests in flight.

`{id}` in the URL becomes a fresh id per connection (a URL ending in /ws/voice gets `/{id}`
added). --pages A,B,... adds a random `page=` per connection and --interact P makes that share
of held connections speak once (visitor flows). Default thresholds: ws_success:rate>=0.95 (hold)
or call_accepted:rate>=0.95 (burst); short forms read ws_connecting / call_answer_time (trends),
ws_failed / call_accepted (rate) and errors_total (count).
"""

from __future__ import annotations

import argparse
from typing import Any

from bench.commands.traffic_common import (
    add_common_arguments,
    add_ws_arguments,
    parse_range,
    positive_duration,
    run_single,
    thresholds_from_flags,
    ws_options_from_flags,
)
from bench.errors import UsageError
from generator.load.constant_arrival_rate import ConstantArrivalRate
from generator.load.durations import parse_duration
from generator.load.ramping_vus import RampingVUs, Stage
from generator.workloads.call_burst import CallBurstConfig, CallBurstWorkload
from generator.workloads.connections import ConnectionsConfig, ConnectionsWorkload

HOLD_DEFAULTS = {"trend": "ws_connecting", "rate": "ws_failed", "count": "errors_total"}
BURST_DEFAULTS = {"trend": "call_answer_time", "rate": "call_accepted", "count": "errors_total"}
HOLD_FALLBACK = ("ws_success:rate>=0.95",)
BURST_FALLBACK = ("call_accepted:rate>=0.95",)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("connections", help="WebSocket capacity", description=__doc__)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--url", required=True, help="ws:// or wss:// URL; {id} = a fresh id")
    p.add_argument("--target", type=int, help="concurrent connections (burst: in-flight cap)")
    p.add_argument("--ramp", default="0s", help="time to reach --target (default 0s)")
    p.add_argument("--hold", default="30", help="seconds each is held: MIN-MAX or S (default 30)")
    p.add_argument("--rate", type=float, help="burst mode: call requests per second")
    p.add_argument("--duration", help="burst mode: for this long")
    p.add_argument("--pages", help="comma-separated page paths, one chosen per connection")
    p.add_argument("--interact", type=float, default=0.0, help="share of visitors who speak")
    p.add_argument("--connect-timeout", default="10s", help="handshake timeout (default 10s)")
    add_common_arguments(p, "ws_success:rate>=0.95 (hold), call_accepted:rate>=0.95 (burst)")
    add_ws_arguments(p)
    p.set_defaults(handler=handle)


def normalise_url(url: str, problems: list[str]) -> str:
    if not url.startswith(("ws://", "wss://")):
        problems.append(f"--url must start with ws:// or wss:// (got {url!r})")
    if "{id}" not in url and url.rstrip("/").endswith("/ws/voice"):
        url = url.rstrip("/") + "/{id}"  # the mock backend's call endpoint needs an id
    return url


def handle(args: argparse.Namespace) -> int:
    problems: list[str] = []
    url = normalise_url(args.url, problems)
    connect_s = positive_duration(args.connect_timeout, "--connect-timeout", problems)
    if args.target is not None and args.target < 1:
        problems.append("--target must be at least 1")
    if args.rate is not None or args.duration is not None:
        return _burst(args, url, connect_s, problems)
    if args.target is None:
        problems.append("--target is required (or --rate and --duration for a burst)")
    try:
        ramp_s = parse_duration(args.ramp)
    except ValueError as exc:
        problems.append(f"--ramp: {exc}")
        ramp_s = 0.0
    hold_min, hold_max = parse_range(args.hold, "--hold", problems)
    if not 0 <= args.interact <= 1:
        problems.append("--interact must be within 0..1")
    thresholds = thresholds_from_flags(args.threshold, (), False, HOLD_DEFAULTS, HOLD_FALLBACK)
    if problems:
        raise UsageError("; ".join(problems))
    target = int(args.target)
    pages = tuple(p.strip() for p in (args.pages or "").split(",") if p.strip())
    config = ConnectionsConfig(
        url=url,
        hold_min_s=hold_min,
        hold_max_s=hold_max,
        connect_timeout_s=connect_s,
        pages=pages,
        interact_probability=args.interact,
        **ws_options_from_flags(args),
    )
    stages = (
        Stage(duration=ramp_s, target=target),
        Stage(duration=max(hold_max, 1.0), target=target),
    )
    # Connections opened near the end may still hold for up to MAX: let them.
    load = RampingVUs(stages=stages, gracefulStop=hold_max + connect_s + 5.0)
    return run_single(
        args,
        name="connections",
        kind="connections",
        record=config.model_dump(mode="json"),
        load=load,
        thresholds=thresholds,
        workload=ConnectionsWorkload(config, name="connections"),
    )


def _burst(args: argparse.Namespace, url: str, connect_s: float, problems: list[str]) -> int:
    if args.rate is None or args.rate <= 0:
        problems.append("burst mode needs a positive --rate")
    if args.duration is None:
        problems.append("burst mode needs --duration")
        duration_s = 0.0
    else:
        duration_s = positive_duration(args.duration, "--duration", problems)
    thresholds = thresholds_from_flags(args.threshold, (), False, BURST_DEFAULTS, BURST_FALLBACK)
    if problems:
        raise UsageError("; ".join(problems))
    cap = args.target or 1000
    config = CallBurstConfig(url=url, connect_timeout_s=connect_s, **ws_options_from_flags(args))
    load = ConstantArrivalRate(
        rate=args.rate,
        duration=duration_s,
        preAllocatedVUs=min(cap, 50),
        maxVUs=cap,
        gracefulStop=config.connect_timeout_s + config.ready_timeout_s + config.answer_timeout_s,
    )
    return run_single(
        args,
        name="call_burst",
        kind="call_burst",
        record=config.model_dump(mode="json"),
        load=load,
        thresholds=thresholds,
        workload=CallBurstWorkload(config, name="call_burst"),
    )
