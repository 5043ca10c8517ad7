"""`callbench http`: a weighted mix of HTTP requests from an endpoints file
(generator/workloads/endpoints.py), under one of two load models:

    --stages 1m:5,2m:10,3m:10,1m:0     ramping VUs, each stage DURATION:TARGET (the default)
    --requests N --concurrency C       N requests in total on C VUs, like `ab -n N -c C`

--think S (or MIN-MAX) makes each VU pause after every request, as k6 scripts `sleep(1)`.

The base URL comes from --url or $BASE_URL; endpoints with `bearer: true` send
`Authorization: Bearer $API_TOKEN` (the token is read from the environment only, never from a
flag, and never written to the run directory). Short thresholds read the HTTP metrics:
`p(99)<1000` → http_req_duration, `rate<0.05` → http_req_failed, `count==0` → errors_total.
--preset-thresholds adds the seed's criteria: http_req_duration:p(99)<1000,
http_req_failed:rate<0.05, http_reqs:rate>=1. With no threshold at all:
http_req_failed:rate<0.05.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from bench.commands.traffic_common import (
    add_common_arguments,
    parse_range,
    positive_duration,
    run_single,
    thresholds_from_flags,
)
from bench.errors import UsageError
from generator.load.config import LoadConfig
from generator.load.ramping_vus import RampingVUs, Stage
from generator.load.shared_iterations import SharedIterations
from generator.workloads.endpoints import load_endpoints
from generator.workloads.http import (
    BASE_URL_ENV,
    HTTP_THRESHOLD_PRESET,
    HttpConfig,
    HttpWorkload,
)

DEFAULT_STAGES = "1m:5,2m:10,3m:10,1m:0"
HTTP_DEFAULTS = {"trend": "http_req_duration", "rate": "http_req_failed", "count": "errors_total"}
FALLBACK_THRESHOLDS = ("http_req_failed:rate<0.05",)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("http", help="HTTP endpoint mix", description=__doc__)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--url", help=f"base URL, e.g. http://127.0.0.1:8080 (default ${BASE_URL_ENV})")
    p.add_argument("--endpoints", required=True, type=Path, help="endpoints YAML file")
    p.add_argument("--stages", help=f"ramping VUs, DURATION:TARGET,... (default {DEFAULT_STAGES})")
    p.add_argument("--requests", type=int, help="total requests (with --concurrency)")
    p.add_argument("--concurrency", type=int, help="VUs sharing --requests (default 1)")
    p.add_argument("--timeout", default="10s", help="per-request timeout (default 10s)")
    p.add_argument("--think", default="0", help="pause after each request: S or MIN-MAX (k6 sleep)")
    p.add_argument("--health-path", default="/health", help="checked at start and end")
    p.add_argument("--no-health-check", action="store_true", help="skip the health checks")
    add_common_arguments(p, FALLBACK_THRESHOLDS[0])
    p.set_defaults(handler=handle)


def parse_stages(text: str, problems: list[str]) -> tuple[Stage, ...]:
    """`1m:5,2m:10` → stages; every bad one reported."""
    stages = []
    for part in (p.strip() for p in text.split(",")):
        duration, sep, target = part.partition(":")
        if not sep or not target.strip().isdigit():
            problems.append(f"--stages: {part!r} is not DURATION:TARGET (e.g. 30s:10)")
            continue
        seconds = positive_duration(duration, f"--stages {part!r}", problems)
        if seconds > 0:
            stages.append(Stage(duration=seconds, target=int(target)))
    return tuple(stages)


def load_from_flags(
    args: argparse.Namespace, timeout_s: float, problems: list[str]
) -> LoadConfig | None:
    if args.requests is not None or args.concurrency is not None:
        if args.stages is not None:
            problems.append("--stages and --requests/--concurrency cannot be combined")
        requests, concurrency = args.requests, args.concurrency or 1
        if requests is None or requests < 1:
            problems.append("--requests must be given and at least 1")
        elif concurrency < 1 or concurrency > requests:
            problems.append(f"--concurrency must be within 1..{requests} (--requests)")
        else:
            return SharedIterations(vus=concurrency, iterations=requests)
        return None
    stages = parse_stages(args.stages or DEFAULT_STAGES, problems)
    if stages and max(s.target for s in stages) < 1:
        problems.append("--stages never goes above 0 VUs")
    # Let running requests finish after the last stage, no longer than a request may take.
    return RampingVUs(stages=stages, gracefulStop=timeout_s or 30.0) if stages else None


def handle(args: argparse.Namespace) -> int:
    problems: list[str] = []
    timeout_s = positive_duration(args.timeout, "--timeout", problems)
    think_min, think_max = parse_range(args.think, "--think", problems)
    load = load_from_flags(args, timeout_s, problems)
    thresholds = thresholds_from_flags(
        args.threshold,
        HTTP_THRESHOLD_PRESET,
        args.preset_thresholds,
        HTTP_DEFAULTS,
        FALLBACK_THRESHOLDS,
    )
    base_url = args.url or os.environ.get(BASE_URL_ENV)
    if not base_url:
        problems.append(f"give --url or set ${BASE_URL_ENV}")
    if problems or load is None:
        raise UsageError("; ".join(problems))
    endpoints = load_endpoints(args.endpoints)  # InvalidInput lists every problem in the file
    config = HttpConfig(
        base_url=base_url,
        endpoints=endpoints,
        health_path=None if args.no_health_check else args.health_path,
        timeout_s=timeout_s,
        max_connections=max(load.max_vus, 1),
        think_min_s=think_min,
        think_max_s=think_max,
    )
    workload = HttpWorkload(config, name="http")  # reads $API_TOKEN; InvalidInput if missing
    record = {
        "base_url": config.base_url,
        "endpoints_file": str(args.endpoints),
        "health_path": config.health_path,
        "timeout_s": timeout_s,
        "think_s": [think_min, think_max],
    }
    return run_single(
        args,
        name="http",
        kind="http",
        record=record,
        load=load,
        thresholds=thresholds,
        workload=workload,
    )
