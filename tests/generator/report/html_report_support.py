"""Real short runs for the HTML report tests: the runner with the tiny ping workload against its
local aiohttp server, plus a hand-written monitor.jsonl shaped like the target monitor's
(docs/monitor.md), and the summary fields the diagnosis adds (zone, verdict, findings, monitor).
"""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

from generator.options import RunOptions
from generator.report.summary_model import Summary
from generator.runner import Runner
from generator.scenario import scenario_from_dict
from generator.workloads.base import IterationContext
from tests.generator.ping_workload import PingWorkload, start_server

GENERATOR_CHARTS = (
    "Active calls and VUs",
    "Arrival rate (iterations started per second)",
    "Turn latency per second (ms)",
    "Call outcomes per second",
    "Errors by kind per second",
    "Audio send lag p99 per second (ms)",
)
MONITOR_CHARTS = (
    "Backend RSS (MiB) with baseline and 20 % band",
    "Backend CPU (%)",
    "Postgres connections vs max_connections",
    "DB pool: waiting for a connection",
    "Upstream 429s and rejections per second",
)
EXPECTED_CHARTS = GENERATOR_CHARTS + MONITOR_CHARTS


class LaggyPing(PingWorkload):
    """The ping workload, also recording a send_lag sample per iteration as a call does."""

    async def iteration(self, ctx: IterationContext) -> None:
        await super().iteration(ctx)
        ctx.store.add_trend("send_lag", 2.0 + ctx.rng.random() * 3.0, {"workload": self.name})


def run_ping(out: Path, *, seconds: int, fail_every: int, seed: int) -> Summary:
    async def go() -> Summary:
        server, url = await start_server(delay_s=0.04, fail_every=fail_every)
        try:
            scenario = scenario_from_dict(
                {
                    "name": f"ping-{out.name}",
                    "seed": seed,
                    "workloads": {
                        "ping": {
                            "type": "calls",
                            "config": {"url": url},
                            "load": {
                                "executor": "constant-arrival-rate",
                                "rate": 15,
                                "duration": f"{seconds}s",
                                "preAllocatedVUs": 4,
                                "maxVUs": 4,
                            },
                        }
                    },
                    "thresholds": ["call_success:rate>=0.9", "turn_latency:p(95)<5000"],
                }
            )
            options = RunOptions(out, handle_sigint=False)
            runner = Runner(scenario, options, {"ping": LaggyPing(url)})
            return (await runner.run()).summary
        finally:
            await server.cleanup()

    return asyncio.run(go())


def write_monitor(path: Path, *, seconds: int, leak: bool, seed: int = 1) -> None:
    """Samples every 0.5 s: 1.5 s of baseline, the load, then 2 s of cooldown."""
    rng = random.Random(seed)
    base_rss = 80e6
    samples = []
    for i in range(int((seconds + 3.5) / 0.5) + 1):
        t = i * 0.5 - 1.5
        phase = "baseline" if t < 0 else ("load" if t < seconds else "cooldown")
        load = phase == "load"
        grown = 0.35 if load else (0.3 if leak and phase == "cooldown" else 0.0)
        sample: dict[str, Any] = {
            "t": t,
            "phase": phase,
            "rss_bytes": base_rss * (1 + grown) + rng.random() * 1e6,
            "cpu_percent": 40.0 if load else 1.0,
            "backend_up": True,
            "active_calls": 3 if load else 0,
            "pool_size": 10,
            "pool_idle": 1 if load else 10,
            "pool_waiting": (4 if leak else 1) if load else 0,
            "pg_total": (20 if leak else 12) if load else 6,
            "pg_active": 10 if load else 1,
            "pg_idle": 5,
            "pg_max_connections": 20,
            "db_too_many_connections_total": i if leak else 0,
            "upstream_rate_limited_total": 2 * i if leak else 0,
            "rejected_sessions_total": 0,
        }
        samples.append(sample)
    path.write_text("".join(json.dumps(s) + "\n" for s in samples), encoding="utf-8")


def with_diagnosis(summary: Summary, *, leak: bool) -> dict[str, Any]:
    """The summary's JSON with hand-made diagnosis sections (zone, verdict, findings, monitor)."""
    findings = [
        {
            "rule": "memory_leak",
            "title": "Backend memory did not return to baseline",
            "severity": "critical",
            "evidence": ["RSS 104 MB after cooldown vs 80 MB baseline (+30 %, band 20 %)"],
            "runbook": "bench/runbooks/memory-leak.md",
            "next_step": "Compare heap snapshots before and after the load <b>not bold</b>",
        }
    ]
    zone = "red" if leak else "green"
    rss_final = 104e6 if leak else 80.5e6
    return {
        **summary.to_json(),
        "zone": zone,
        "readiness": "not ready: fix the red rows first" if leak else "ready for production",
        "verdict": [
            {
                "target": "memory_growth",
                "label": "memory growth after cooldown",
                "value": 30.0 if leak else 0.6,
                "unit": "%",
                "zone": zone,
                "reason": "RSS after cooldown against baseline (green < 20 %, yellow < 50 %)",
            },
            {
                "target": "cpu_peak",
                "label": "peak CPU",
                "value": None,
                "unit": "%",
                "zone": "n/a",
                "reason": "no data: no monitor CPU samples",
            },
        ],
        "findings": findings if leak else [],
        "monitor": {
            "available": True,
            "samples": {"baseline": 3, "load": 6, "cooldown": 4},
            "load_end_t": 3.0,
            "baseline": {"pg_total": 6.0, "rss_bytes": 80e6},
            "peak": {"pg_total": 20.0 if leak else 12.0, "rss_bytes": 108e6},
            "final": {"pg_total": 6.0, "rss_bytes": rss_final},
            "backend_down_samples": 0,
            "recovery": {
                "memory": {
                    "key": "rss_bytes",
                    "baseline": 80e6,
                    "final": rss_final,
                    "recovered": not leak,
                    "after_s": None if leak else 0.5,
                    "growth_pct": 30.0 if leak else 0.6,
                },
                "db_connections": {
                    "key": "pg_total",
                    "baseline": 6.0,
                    "final": 6.0,
                    "recovered": True,
                    "after_s": 0.5,
                    "growth_pct": 0.0,
                },
            },
        },
    }
