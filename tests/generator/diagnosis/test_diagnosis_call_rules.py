"""The rules of the call-fidelity failure modes on hand-built evidence: barge-ins talked over,
the beta API shape refused, upstream sessions expiring under calls — each firing on its own
evidence, silent otherwise, and not blamed on another rule."""

from __future__ import annotations

from generator.diagnosis.finding import runbook
from generator.diagnosis.rules import (
    RULES,
    barge_in_ignored,
    diagnose,
    upstream_api_refused,
    upstream_session_expired,
)
from generator.metrics.store import MetricsStore
from tests.generator.diagnosis.diagnosis_builders import evidence, healthy_samples, store

TAGS = {"protocol": "twilio", "workload": "calls"}


def _barge_ins(ignored: int, reactions: list[float]) -> MetricsStore:
    s = store(ok=20)
    if ignored:
        s.add_counter("barge_in_ignored", ignored, TAGS, at=2.0)
    for ms in reactions:
        s.add_trend("barge_in_reaction", ms, TAGS, at=2.0)
    return s


def test_registered_with_their_runbooks() -> None:
    for module in (barge_in_ignored, upstream_api_refused, upstream_session_expired):
        assert RULES[module.RULE] is module.check


def test_barge_in_ignored_fires_on_the_callers_counter() -> None:
    found = barge_in_ignored.check(evidence(_barge_ins(9, [60.0]), healthy_samples()))
    assert found is not None
    assert found.severity == "critical"
    assert found.runbook == runbook("barge_in_ignored")
    assert "9 of 10 barge-ins were talked over" in found.evidence[0]
    assert "in 60 ms at the median" in found.evidence[1]


def test_barge_in_ignored_a_few_of_many_is_a_warning() -> None:
    found = barge_in_ignored.check(evidence(_barge_ins(2, [50.0] * 18)))
    assert found is not None
    assert found.severity == "warning"


def test_barge_ins_handled_or_absent_are_no_finding() -> None:
    assert barge_in_ignored.check(evidence(_barge_ins(0, [40.0] * 10))) is None
    assert barge_in_ignored.check(evidence(store(ok=20))) is None
    assert diagnose(evidence(_barge_ins(0, [40.0] * 10), healthy_samples())) == []


def test_api_refused_fires_on_the_backends_code_and_the_upstreams() -> None:
    through_backend = store(ok=0, failed=12, errors=[({"kind": "server_error", "code":
                            "upstream_api_refused"}, 12)])  # fmt: skip
    found = upstream_api_refused.check(evidence(through_backend))
    assert found is not None
    assert found.severity == "critical"
    assert found.evidence == [
        "12 calls were told upstream_api_refused",
        "12 of 12 calls failed on it: every session, not a share",
    ]
    direct = store(ok=0, failed=3, errors=[({"kind": "server_error", "code":
                   "beta_api_shape_disabled"}, 3)])  # fmt: skip
    assert upstream_api_refused.check(evidence(direct)) is not None
    # Only this rule: a refused shape is not a rate limit, a slow upstream or a crash.
    rules = [f.rule for f in diagnose(evidence(through_backend, healthy_samples()))]
    assert rules == ["upstream_api_refused"]


def test_api_refused_silent_on_other_upstream_errors() -> None:
    other = store(ok=10, failed=2, errors=[({"kind": "server_error", "code": "upstream_error"}, 2)])
    assert upstream_api_refused.check(evidence(other)) is None


def test_session_expired_fires_on_lost_calls() -> None:
    lost = store(ok=4, failed=6, errors=[({"kind": "server_error", "code":
                 "upstream_session_expired"}, 6)])  # fmt: skip
    found = upstream_session_expired.check(evidence(lost, healthy_samples()))
    assert found is not None
    assert found.severity == "critical"
    assert found.evidence[-1] == "6 of 10 calls lost when their upstream session ended"
    rules = [f.rule for f in diagnose(evidence(lost, healthy_samples()))]
    assert rules == ["upstream_session_expired"]
    direct = store(ok=9, failed=1, errors=[({"kind": "server_error", "code":
                   "session_expired"}, 1)])  # fmt: skip
    found = upstream_session_expired.check(evidence(direct))
    assert found is not None
    assert found.evidence[0] == "1 calls were told session_expired"


def test_session_expired_silent_when_no_call_was_lost() -> None:
    assert upstream_session_expired.check(evidence(store(ok=20), healthy_samples())) is None
