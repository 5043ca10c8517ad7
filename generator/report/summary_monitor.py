"""The target monitor's section of the run summary (docs/summary-schema.md `monitor.*`,
docs/monitor.md): samples per phase, baseline / peak / final per monitor key, the recovery
checks. Part of the typed summary (summary_model.py), kept apart to keep each module small.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from generator.monitor.evidence import Recovery
from generator.report import summary_json as js


def recovery_from_json(value: object, where: str) -> Recovery:
    d = js.obj(value, where)
    return Recovery(
        key=js.opt_text(d, "key", where),
        baseline=js.opt_number(d, "baseline", where),
        final=js.opt_number(d, "final", where),
        recovered=js.opt_flag(d, "recovered", where),
        after_s=js.opt_number(d, "after_s", where),
        growth_pct=js.opt_number(d, "growth_pct", where),
    )


@dataclass(frozen=True)
class PhaseSamples:
    baseline: int
    load: int
    cooldown: int

    def items(self) -> tuple[tuple[str, int], ...]:
        return (("baseline", self.baseline), ("load", self.load), ("cooldown", self.cooldown))


@dataclass(frozen=True)
class RecoveryChecks:
    memory: Recovery
    db_connections: Recovery

    def items(self) -> tuple[tuple[str, Recovery], ...]:
        return (("memory", self.memory), ("db_connections", self.db_connections))


@dataclass(frozen=True)
class MonitorSummary:
    """The target monitor's section (docs/monitor.md): samples per phase, and per monitor key
    the baseline median, the peak under load and the last sample."""

    available: bool
    samples: PhaseSamples
    load_end_t: float | None
    baseline: Mapping[str, float]
    peak: Mapping[str, float]
    final: Mapping[str, float]
    backend_down_samples: int
    recovery: RecoveryChecks

    def phases(self) -> Iterator[tuple[str, Mapping[str, float]]]:
        yield from (("baseline", self.baseline), ("peak", self.peak), ("final", self.final))

    def to_json(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "samples": dict(self.samples.items()),
            "load_end_t": self.load_end_t,
            "baseline": dict(self.baseline),
            "peak": dict(self.peak),
            "final": dict(self.final),
            "backend_down_samples": self.backend_down_samples,
            "recovery": {name: r.as_dict() for name, r in self.recovery.items()},
        }

    @staticmethod
    def from_json(value: object, where: str) -> MonitorSummary:
        d = js.obj(value, where)
        samples = js.obj(d.get("samples"), f"{where}.samples")
        recovery = js.obj(d.get("recovery"), f"{where}.recovery")
        here = f"{where}.recovery"
        counts = [
            js.integer(samples, p, f"{where}.samples") for p in ("baseline", "load", "cooldown")
        ]
        return MonitorSummary(
            available=js.flag(d, "available", where),
            samples=PhaseSamples(*counts),
            load_end_t=js.opt_number(d, "load_end_t", where),
            baseline=js.mapping(d, "baseline", where, js.as_number),
            peak=js.mapping(d, "peak", where, js.as_number),
            final=js.mapping(d, "final", where, js.as_number),
            backend_down_samples=js.integer(d, "backend_down_samples", where),
            recovery=RecoveryChecks(
                recovery_from_json(recovery.get("memory"), f"{here}.memory"),
                recovery_from_json(recovery.get("db_connections"), f"{here}.db_connections"),
            ),
        )
