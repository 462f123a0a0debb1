"""The numpy DAMON paths give exactly what the general ones give.

* :func:`damon_fast.build` (snapshots assembled with array operations, or by the general
  assembler when it declines) against :class:`SnapshotAssembler` fed event by event, on random
  event streams with the irregularities real records have: interleaved targets and kdamonds,
  repeated events, snapshots cut short, regions out of order, nr_regions changing.
* the native perf.data reader against ``perf script`` on every DAMON perf.data we have, and on
  a perf.data made 3× longer from a real one.
"""

from __future__ import annotations

import mmap
import random
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, GOLDEN, REPO
from test_perf_script_fast import same_record

from damon2speedscope.clock import ClockDomain
from damon2speedscope.model import SkipCounter
from damon2speedscope.readers import load_input
from damon2speedscope.readers import perf_data_native as native
from damon2speedscope.readers.damon_events import SnapshotAssembler
from damon2speedscope.readers.damon_fast import Declined, RegionEvents, assemble, build


def _events(rng: random.Random, clean: bool = False
            ) -> list[tuple[str, int, int, int, int, int, int, int]]:
    """(label, target id, time, nr_regions, start, end, nr_accesses, age) in file order."""
    labels = ["kdamond.0 77", "kdamond.1 90", "kdamond.0 78"][:rng.randint(1, 2 if clean else 3)]
    streams = []
    for label in labels:
        for tid in range(rng.randint(1, 2)):
            events = []
            t = rng.randint(0, 10**9)
            for _ in range(rng.randint(1, 5)):
                nr = rng.randint(1, 6)
                addr = rng.randint(0, 2**40)
                for i in range(nr):
                    size = rng.choice([4096, 8192] if clean else [4096, 8192, 0])
                    events.append((label, tid, t + i * rng.choice([0, 1]), nr, addr,
                                   addr + size, rng.randint(0, 20), rng.choice([-1, 0, 5])))
                    addr += size + rng.choice([0, 4096])
                t += rng.randint(1, 10**6)
            streams.append(events)
    flat = []
    while any(streams):
        s = rng.choice([s for s in streams if s])
        flat.append(s.pop(0))
        if clean:
            continue
        if rng.random() < 0.05:  # perf repeats an event
            flat.append(flat[-1])
        if rng.random() < 0.01 and len(flat) > 2:  # a lost event
            flat.pop(-2)
        if rng.random() < 0.01:  # out of order
            e = flat[-1]
            flat[-1] = (*e[:4], max(0, e[4] - 10**6), e[5], *e[6:])
    return flat


def _region_events(events: list[tuple[str, int, int, int, int, int, int, int]]) -> RegionEvents:
    labels: list[str] = []
    index: dict[str, int] = {}
    for e in events:
        index.setdefault(e[0], len(index))
    labels = list(index)
    cols = list(zip(*events, strict=True)) if events else [()] * 8
    return RegionEvents(
        labels, np.array([index[x] for x in cols[0]], dtype=np.int64),
        np.array(cols[1], dtype=np.uint64), np.array(cols[2], dtype=np.int64),
        np.array(cols[3], dtype=np.int64), np.array(cols[4], dtype=np.uint64),
        np.array(cols[5], dtype=np.uint64), np.array(cols[6], dtype=np.int64),
        np.array(cols[7], dtype=np.int64))


@pytest.mark.parametrize("seed", range(300))
def test_fast_assembly_equals_assembler(seed: int) -> None:
    rng = random.Random(seed)
    events = _events(rng)
    skipped = SkipCounter()
    general = SnapshotAssembler(ClockDomain.PERF, "x", skipped)
    for i, (label, tid, t, nr, s, e, a, g) in enumerate(events):
        general.add(label, 0, tid, t, nr, s, e, a, g, f"x:{i + 1}")
    expected = general.finish()
    fast_skipped = SkipCounter()
    got, _ = build(_region_events(events), ClockDomain.PERF, "x", fast_skipped)
    assert same_record(got, expected)
    assert fast_skipped.counts == skipped.counts
    assert fast_skipped.first_at == skipped.first_at


def test_fast_assembly_takes_the_common_case() -> None:
    """Regular records never fall back to the general assembler (the speed depends on it)."""
    rng = random.Random(1)
    for _ in range(200):
        assemble(_region_events(_events(rng, clean=True)), ClockDomain.PERF, SkipCounter())
    with pytest.raises(Declined):
        events = _events(random.Random(2), clean=True)
        events.insert(1, (*events[0][:3], 99, *events[0][4:]))  # nr_regions out of step
        assemble(_region_events(events), ClockDomain.PERF, SkipCounter())


PERF_DATA = [GOLDEN / "fftlike" / "damon.perf.data", GOLDEN / "mtphases" / "damon.perf.data",
             DATA / "recordings" / "fftlike-mono" / "damon.mono.perf.data"]


@pytest.mark.parametrize("path", PERF_DATA, ids=lambda p: p.parent.name)
def test_native_perf_data_equals_perf_script(path: Path) -> None:
    data = path.read_bytes()
    ours = load_input(data, str(path), str(path))
    assert ours.warnings == [] or all("perf:" in w for w in ours.warnings)
    reference = load_input(data, str(path), str(path), native=False)
    assert same_record(ours.damon, reference.damon)
    assert ours.skipped.counts == reference.skipped.counts
    assert ours.header == reference.header
    assert native.read(data) is not None


def test_native_perf_data_of_a_longer_recording(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "bench"))
    import gen

    src = GOLDEN / "fftlike"
    period = gen.repeat_period_ns(gen.TextTemplate.load(src / "perf.script.txt"),
                                  gen.TextTemplate.load(src / "damon.perf_script.txt"))
    path = tmp_path / "damon.3x.perf.data"
    gen.write_repeated_perf_data(src / "damon.perf.data", path, 3, period)
    data = path.read_bytes()
    ours = load_input(data, str(path), str(path))
    reference = load_input(data, str(path), str(path), native=False)
    assert ours.damon is not None and len(ours.damon) == 3 * 14
    assert same_record(ours.damon, reference.damon)


@pytest.mark.parametrize("path", PERF_DATA, ids=lambda p: p.parent.name)
def test_native_reader_in_small_windows_of_a_mapped_file(path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows of 64 words and blocks of 7 records (many, cut anywhere in a record) give the
    same events as one window; the pages given back are read again where needed."""
    whole = native.read(path.read_bytes())
    assert whole is not None
    monkeypatch.setattr(native, "WINDOW_WORDS", 64)
    monkeypatch.setattr(native, "BLOCK_RECORDS", 7)
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        small = native.read(data)
        assert small is not None
        assert small.event_name == whole.event_name and small.events.labels == whole.events.labels
        for field in ("label", "target_id", "time_ns", "nr_regions", "start", "end",
                      "nr_accesses", "age"):
            got, want = getattr(small.events, field), getattr(whole.events, field)
            assert got.dtype == want.dtype and np.array_equal(got, want), field
        assert len(whole.events) > 7 * 10


def test_native_reader_declines_what_it_does_not_know() -> None:
    combined = DATA / "recordings" / "fftlike-combined" / "combined.perf.data"
    assert native.read(combined.read_bytes()) is None  # callchains to symbolize: perf script
    data = bytearray((GOLDEN / "fftlike" / "damon.perf.data").read_bytes())
    data[:8] = b"2ELIFREP"
    assert native.read(bytes(data)) is None
    assert native.read(b"PERFILE2" + bytes(200)) is None
