"""Workers' snapshots over real pipes (generator/distributed/handover.py): the parent's combined
store equals one store that saw every observation, it starts combining only once every open
pipe has sent its header, a late worker moves by its whole-second offset, and the parent's run
directory holds the combined snapshots."""

from __future__ import annotations

import multiprocessing
import random
from multiprocessing.connection import Connection
from pathlib import Path

from generator.distributed.handover import Handover, SnapshotSender, pack, unpack
from generator.metrics.snapshots import SnapshotWriter
from generator.metrics.store import MetricsStore
from tests.support.clock import FakeClock


def _pipes(n: int) -> tuple[list[Connection], list[Connection]]:
    context = multiprocessing.get_context("spawn")
    pairs = [context.Pipe(duplex=False) for _ in range(n)]
    return [r for r, _ in pairs], [w for _, w in pairs]


def test_pack_round_trips_both_texts() -> None:
    assert unpack(pack("#[Tick: 1]\nTag=x,1,1,1,H\n", '{"k":"tick"}\n')) == (
        "#[Tick: 1]\nTag=x,1,1,1,H\n",
        '{"k":"tick"}\n',
    )


def test_the_parent_combines_what_the_pipes_hand_over(tmp_path: Path) -> None:
    readers, writers = _pipes(2)
    handover = Handover(readers, tmp_path / "out")
    clock = FakeClock(10.0)
    sinks = [
        SnapshotWriter(tmp_path / str(i), wall_start=500.0 + i * 0.2, tee=SnapshotSender(w))
        for i, w in enumerate(writers)
    ]
    stores = [MetricsStore(clock=clock, snapshots=s) for s in sinks]
    single = MetricsStore(clock=clock)
    rng = random.Random(11)
    for step in range(3000):
        clock.now = 10.0 + step * 0.001
        if step % 700 == 0:
            for store in stores:
                store.tick()
            handover.poll()  # reads as it goes: the pipes never fill up
        value = rng.lognormvariate(4, 1.0)
        target = stores[rng.randrange(2)]
        for store in (target, single):
            store.add_trend("http_req_duration", value, {"name": "root"})
            store.add_counter("http_reqs", 1)
    for i, (store, sink) in enumerate(zip(stores, sinks, strict=True)):
        store.add_gauge("vus", 4, {"workload": "http"})
        store.finish()
        sink.close()
        writers[i].close()
    single.finish()
    combined = handover.finish()
    handover.close()
    whole = single.trend("http_req_duration")
    got = combined.trend("http_req_duration")
    assert got.count == whole.count == 3000
    for pct in (50, 90, 99, 99.9):
        assert got.p(pct) == whole.p(pct)
    assert (got.min, got.max) == (whole.min, whole.max)
    assert combined.counter("http_reqs") == 3000
    assert combined.gauge("vus", {"workload": "http"}) == (8.0, 8.0)  # 4 per worker
    assert handover.ends([0, 1]) == [s.ended_at for s in stores]
    again = MetricsStore.from_snapshots(tmp_path / "out")  # the parent's own snapshots
    assert again.trend("http_req_duration").p(99) == whole.p(99)
    assert again.series_rows() == combined.series_rows()


def test_combining_waits_for_every_header_and_aligns_a_late_worker(tmp_path: Path) -> None:
    readers, writers = _pipes(2)
    handover = Handover(readers, tmp_path / "out")
    clock = FakeClock(0.0)
    early = SnapshotWriter(tmp_path / "0", wall_start=100.0, tee=SnapshotSender(writers[0]))
    first = MetricsStore(clock=clock, snapshots=early)
    clock.now = 0.5
    first.add_counter("http_reqs", 1)
    first.tick()
    handover.poll()
    assert handover.store.counter("http_reqs") == 0  # worker 1 has not said when it started
    late = SnapshotWriter(tmp_path / "1", wall_start=102.1, tee=SnapshotSender(writers[1]))
    second = MetricsStore(clock=clock, snapshots=late)
    second.add_counter("http_reqs", 1)
    second.tick()
    handover.poll()
    assert handover.store.counter("http_reqs") == 2
    for store, sink, writer in zip((first, second), (early, late), writers, strict=True):
        clock.now = 1.0
        store.finish()
        sink.close()
        writer.close()
    combined = handover.finish()
    handover.close()
    seconds = combined.series.seconds
    assert sum(seconds[0].counters.values()) == 1
    assert sum(seconds[2].counters.values()) == 1  # 2.1 s late: two whole seconds
    assert second.ended_at is not None
    assert second.ended_at + 2 > (first.ended_at or 0.0)
    assert combined.elapsed() == second.ended_at + 2  # the late one's end, on the early one's
    assert combined.wall_start == 100.0


def test_a_parent_gone_does_not_stop_the_worker(tmp_path: Path) -> None:
    readers, writers = _pipes(1)
    readers[0].close()
    writer = SnapshotWriter(tmp_path, tee=SnapshotSender(writers[0]))
    store = MetricsStore(clock=FakeClock(0.0), snapshots=writer)
    store.add_counter("http_reqs", 1)
    store.finish()  # the send fails: the files still hold it
    writer.close()
    assert MetricsStore.from_snapshots(tmp_path).counter("http_reqs") == 1
