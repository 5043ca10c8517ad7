"""JUnit XML: one test case per threshold, failed thresholds as <failure>, so CI shows each
criterion of the run as a test. The verdict (zones), the monitor's recovery and the diagnosis
findings go to the suite's <system-out>: they inform, while the thresholds decide."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from generator.report.diagnosis_text import finding_lines, recovery_lines, verdict_lines
from generator.report.summary_model import Summary


def render_junit(summary: Summary) -> str:
    thresholds = summary.thresholds
    failures = sum(not t.ok for t in thresholds)
    suite = ET.Element(
        "testsuite",
        name=f"callbench.{summary.name}",
        tests=str(len(thresholds)),
        failures=str(failures),
        errors="0",
        time=f"{summary.duration_s:.3f}",
    )
    for t in thresholds:
        case = ET.SubElement(suite, "testcase", classname="callbench.thresholds", name=t.expr)
        if not t.ok:
            value = "no data" if t.value is None else f"{t.value:g}"
            failure = ET.SubElement(case, "failure", message=f"{t.expr} failed: {value}")
            failure.text = t.note or f"observed {value}"
    if summary.status != "completed":
        case = ET.SubElement(suite, "testcase", classname="callbench.run", name="run completed")
        ET.SubElement(case, "failure", message=f"run {summary.status}")
        suite.set("tests", str(len(thresholds) + 1))
        suite.set("failures", str(failures + 1))
    text = [*recovery_lines(summary), *verdict_lines(summary), *finding_lines(summary)]
    if text:
        ET.SubElement(suite, "system-out").text = "\n".join(text)
    suites = ET.Element("testsuites")
    suites.append(suite)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"
