"""`callbench webhooks`: a storm of COUNT form-encoded webhooks sent WITHIN seconds at a constant
arrival rate (an open model: a slow target does not slow the storm; latencies count from each
webhook's scheduled time). Each body comes from --template with `{i}` (0, 1, ...) and `{uuid}`
substituted. With --sign and $TWILIO_AUTH_TOKEN every request carries an `X-Twilio-Signature` a
Twilio-verifying backend accepts (--twilio-auth-token also works, but puts the token in the process
list: prefer the variable).

Outcomes: accepted (2xx), rate_limited (429), rejected (other status), error (no answer).
Thresholds default to the seed's criterion — no 429, 95 % answered within 5 s:
webhooks_total{outcome:rate_limited}:count==0 and webhook_duration:p(95)<5000 (what
--preset-thresholds adds to given ones) — plus none rejected and none lost. Short forms read
webhook_duration (trends), webhook_failed (rate: 1 - webhook_success) and errors_total (count).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from bench.commands.traffic_common import (
    add_common_arguments,
    positive_duration,
    run_single,
    thresholds_from_flags,
)
from bench.errors import UsageError
from generator.load.constant_arrival_rate import ConstantArrivalRate
from generator.workloads.webhooks import (
    DEFAULT_TEMPLATE,
    TWILIO_TOKEN_ENV,
    WEBHOOK_THRESHOLD_PRESET,
    WebhookConfig,
    WebhookWorkload,
    parse_template,
)

# Without threshold flags: the seed's criterion, and nothing refused or lost on the way.
DEFAULT_THRESHOLDS = (
    *WEBHOOK_THRESHOLD_PRESET,
    "webhooks_total{outcome:rejected}:count==0",
    "webhooks_total{outcome:error}:count==0",
)
WEBHOOK_DEFAULTS = {"trend": "webhook_duration", "rate": "webhook_failed", "count": "errors_total"}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("webhooks", help="webhook storm", description=__doc__)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--url", required=True, help="full webhook URL (http:// or https://)")
    p.add_argument("--count", type=int, required=True, help="webhooks to send")
    p.add_argument("--within", required=True, help="spread over this long (e.g. 10s)")
    p.add_argument("--template", default=DEFAULT_TEMPLATE, help="form body with {i}, {uuid}")
    p.add_argument(
        "--twilio-auth-token", help=f"sign requests (or --sign with ${TWILIO_TOKEN_ENV})"
    )
    p.add_argument("--sign", action="store_true", help=f"sign with ${TWILIO_TOKEN_ENV}")
    p.add_argument("--max-in-flight", type=int, default=1000, help="VU cap (default 1000)")
    p.add_argument("--timeout", default="10s", help="per-request timeout (default 10s)")
    add_common_arguments(p, ", ".join(DEFAULT_THRESHOLDS))
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    problems: list[str] = []
    within_s = positive_duration(args.within, "--within", problems)
    timeout_s = positive_duration(args.timeout, "--timeout", problems)
    if args.count < 1:
        problems.append("--count must be at least 1")
    if args.max_in_flight < 1:
        problems.append("--max-in-flight must be at least 1")
    if not args.url.startswith(("http://", "https://")):
        problems.append(f"--url must start with http:// or https:// (got {args.url!r})")
    try:
        parse_template(args.template)
    except ValueError as exc:
        problems.append(f"--template: {exc}")
    token = args.twilio_auth_token
    if args.sign and token is None:
        token = os.environ.get(TWILIO_TOKEN_ENV)
        if not token:
            problems.append(f"--sign needs ${TWILIO_TOKEN_ENV} (or --twilio-auth-token)")
    thresholds = thresholds_from_flags(
        args.threshold,
        WEBHOOK_THRESHOLD_PRESET,
        args.preset_thresholds,
        WEBHOOK_DEFAULTS,
        DEFAULT_THRESHOLDS,
    )
    if problems:
        raise UsageError("; ".join(problems))
    cap = min(args.max_in_flight, args.count)
    load = ConstantArrivalRate(
        rate=args.count / within_s,
        duration=within_s,
        preAllocatedVUs=min(cap, 50),
        maxVUs=cap,
        gracefulStop=timeout_s,
    )
    config = WebhookConfig(
        url=args.url,
        template=args.template,
        twilio_auth_token=token,
        timeout_s=timeout_s,
        max_connections=cap,
    )
    record = {"url": args.url, "template": args.template, "signed": token is not None}
    return run_single(
        args,
        name="webhooks",
        kind="webhooks",
        record=record,
        load=load,
        thresholds=thresholds,
        workload=WebhookWorkload(config, name="webhooks"),
    )
