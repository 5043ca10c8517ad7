"""What the drill commands print: the list of drills, one run's verdict with its findings and the
runbook's next step, and the rehearsal table (drill, expected, observed, match). Text only; the
numbers come from DrillResult and the run's summary."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.drilling.diagnosis import findings_of
from bench.drilling.model import Drill, Expectation, runbooks_dir
from bench.drilling.runner import DrillResult
from generator.diagnosis.finding import Finding
from generator.report.summary_model import Summary


def list_drills(drills: Sequence[Drill]) -> str:
    width = max((len(d.name) for d in drills), default=0)
    lines = [f"{d.name:<{width}}  {d.teaches}" for d in drills]
    lines.append("")
    lines.append("run one: callbench drill NAME [--fix]; all, with their fixes: callbench rehearse")
    return "\n".join(lines)


def _conclusion(zone: str, findings: Sequence[str], notes: Sequence[str]) -> str:
    text = f"{zone}: {', '.join(findings) or 'no finding'}"
    return text + (f" (note: {', '.join(notes)})" if notes else "")


def describe(expectation: Expectation) -> str:
    return _conclusion(expectation.zone, expectation.findings, expectation.notes)


def observed_text(result: DrillResult) -> str:
    return _conclusion(result.zone or "?", result.findings, result.notes)


def next_step(rule: str, directory: Path | None = None) -> str | None:
    """The first paragraph under the runbook's ``## Next step`` heading."""
    path = (directory or runbooks_dir()) / f"{rule}.md"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    lines: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("## "):
            if inside:
                break
            inside = line[3:].strip().lower() == "next step"
            continue
        if inside:
            if not line.strip() and lines:
                break
            if line.strip():
                lines.append(line.strip())
    return " ".join(lines) or None


def _finding_lines(finding: Finding) -> list[str]:
    head = f"  finding {finding.rule} ({finding.severity})" + (
        f": {finding.title}" if finding.title else ""
    )
    return [head, *(f"    - {item}" for item in finding.evidence)]


def _verdict_lines(summary: Summary | None) -> list[str]:
    """The readiness line and every row of the verdict that is not green, with its reason."""
    verdict = None if summary is None else summary.verdict
    if verdict is None:
        return []
    lines = [f"  readiness: {verdict.readiness}"] if verdict.readiness else []
    for row in verdict.rows:
        if row.zone in ("yellow", "red"):
            lines.append(f"  {row.label}: {row.zone} - {row.reason}")
    return lines


def render_result(drill: Drill, result: DrillResult) -> str:
    """One run: verdict, each finding, the runbook's next step, and the expectation check."""
    which = "fix" if result.fix else "drill"
    lines = [f"{which} {drill.name}: zone {result.zone or '?'}"]
    lines += _verdict_lines(result.summary)
    found = findings_of(result.summary)
    lines += [line for f in found for line in _finding_lines(f)] or ["  no finding"]
    rule = drill.runbook if not result.fix else None
    rules = [f.rule for f in found if f.severity != "info"]
    for name in rules or ([rule] if rule else []):  # notes (info) need no next step
        step = next_step(name)
        if step:
            lines.append(f"  next step ({name}): {step}")
            lines.append(f"    runbook: {runbooks_dir() / (name + '.md')}")
    if result.fix:
        lines.append(f"  the fix: {drill.fix.summary}")
    else:
        lines.append(
            f"  the fix: {drill.fix.summary} (check it: callbench drill {drill.name} --fix)"
        )
    mark = "MATCH" if result.matched else "MISMATCH"
    lines.append(
        f"  expected {describe(result.expected)} / observed {observed_text(result)}: {mark}"
    )
    lines += [f"  problem: {p}" for p in result.problems]
    lines.append(f"  run dir: {result.run_dir}")
    return "\n".join(lines)


def consistency(results: Sequence[DrillResult]) -> list[str]:
    """For drills run more than once: whether each concluded the same every time."""
    runs: dict[str, list[str]] = {}
    for r in results:
        if not r.fix:
            runs.setdefault(r.drill, []).append(observed_text(r))
    repeated = {name: seen for name, seen in runs.items() if len(seen) > 1}
    if not repeated:
        return []
    lines = [
        f"{name}: {len(seen)} runs, {len(set(seen))} different conclusions: {sorted(set(seen))}"
        for name, seen in repeated.items()
        if len(set(seen)) > 1
    ]
    counts = sorted({len(seen) for seen in repeated.values()})
    times = "/".join(str(n) for n in counts)
    return lines or [f"each drill run {times} times in a row concluded the same every time"]


def render_table(results: Sequence[DrillResult]) -> str:
    rows = [("drill", "expected", "observed", "match")]
    repeated = any(r.attempt > 1 for r in results)
    for r in results:
        run = f" (run {r.attempt})" if repeated and not r.fix else ""
        name = r.drill + run + (" --fix" if r.fix else "")
        rows.append((name, describe(r.expected), observed_text(r), "yes" if r.matched else "NO"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    out = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    out.insert(1, "  ".join("-" * w for w in widths))
    failed = sum(1 for r in results if not r.matched)
    out.append("")
    out.append(f"{len(results) - failed}/{len(results)} matched")
    out += consistency(results)
    return "\n".join(out)
