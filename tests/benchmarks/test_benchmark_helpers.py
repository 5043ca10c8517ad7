"""The benchmarks' pure parts, without running any benchmark: which drill is the heaviest and how
its load is doubled, the percentile helpers, the DB model's prediction, and the calls scenario
(the Twilio sink and the plain peer: test_twilio_sink.py)."""

from __future__ import annotations

from typing import Any

from benchmarks import headroom, realtime


def test_the_heaviest_drill_is_the_one_with_most_calls_at_once() -> None:
    name, drill = headroom.heaviest_drill()
    assert name == "capacity-stress"
    assert headroom.peak_calls(drill["load"]["calls"]["load"]) == 100


def test_the_scenario_doubles_the_load_and_fills_the_urls() -> None:
    _name, drill = headroom.heaviest_drill()
    urls = {"backend.ws": "ws://127.0.0.1:9", "backend.http": "http://127.0.0.1:9"}
    found = headroom.scenario(drill, 2, urls)["workloads"]["calls"]
    assert found["config"]["url"] == "ws://127.0.0.1:9"
    assert found["load"]["iterations"] == 200
    assert found["load"]["vus"] == 200
    assert found["load"]["executor"] == "shared-iterations"


def test_the_stack_keeps_the_drills_timing_but_admits_everyone() -> None:
    _name, drill = headroom.heaviest_drill()
    settings = headroom.stack_settings(drill)
    assert settings["backend.max_sessions"] == "0"
    assert settings["realtime.greeting_ms"] == str(drill["stack"]["realtime.greeting_ms"])
    assert headroom.variants(drill)["db_query_ms=0"]["backend.db_query_ms"] == "0"


def test_percentiles_and_the_db_model() -> None:
    assert headroom.percentile(list(range(1, 101)), 99) == 99
    assert headroom.percentile([5.0], 50) == 5.0
    assert headroom.modelled_db_wait_ms(100, {}) == 2500  # pool of 10, 250 ms each
    assert headroom.modelled_db_wait_ms(200, {"backend.db_query_ms": "0"}) == 0
    before = {0.005: 10.0, 0.025: 10.0, float("inf"): 10.0}
    after = {0.005: 109.0, 0.025: 110.0, float("inf"): 110.0}  # 100 new samples, 99 under 5 ms
    assert headroom.bucket_p99(before, after) == 5.0
    after = {0.005: 108.0, 0.025: 110.0, float("inf"): 110.0}  # 98 under 5 ms
    assert headroom.bucket_p99(before, after) == 25.0


def test_the_calls_scenario_keeps_every_call_up_the_whole_run() -> None:
    scenario: Any = realtime.calls_scenario("ws://127.0.0.1:9", 500, 15)
    found = scenario["workloads"]["calls"]
    assert realtime.ramp_s(500) == 5.0
    assert found["config"]["utterance_ms"] == 20_000  # ramp + hold: no call redials mid-run
    assert [s["target"] for s in found["load"]["stages"]] == [500, 500]
    assert found["config"]["greeting"] == "none"  # the sink waits for the caller, as server VAD
