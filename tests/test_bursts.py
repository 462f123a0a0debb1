"""Memory-burst detection: constructed series for each rule, real recordings for the result."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import GOLDEN
from conversions import convert_files

from damon2speedscope.analysis.bursts import BurstParams, find_bursts
from damon2speedscope.analysis.wss import IntervalSeries
from damon2speedscope.clock import ClockDomain

S = 1_000_000_000


def series(values: list[int], length: int = 5 * S) -> IntervalSeries:
    n = len(values)
    starts = np.arange(n, dtype=np.int64) * length
    v = np.array(values, dtype=np.int64)
    return IntervalSeries(ClockDomain.PERF, starts, starts + length, v, v.copy())


def spans(values: list[int], **params: Any) -> list[tuple[int, int]]:
    return [(b.first, b.last) for b in find_bursts(series(values), BurstParams(**params))]


def test_flat_series_has_no_burst() -> None:
    assert spans([7, 7, 7, 7]) == []
    assert spans([]) == []


def test_one_plateau_is_one_burst_with_its_bounds_and_peak() -> None:
    (burst,) = find_bursts(series([1, 1, 100, 120, 110, 1, 1]))
    assert (burst.first, burst.last) == (2, 4)
    assert (burst.start_ns, burst.end_ns) == (10 * S, 25 * S)
    assert burst.peak_wss == 120 and burst.number == 1


def test_deep_valley_splits_two_phases_and_belongs_to_neither() -> None:
    assert spans([1, 100, 100, 40, 100, 100, 1]) == [(1, 2), (4, 5)]


def test_shallow_valley_does_not_split() -> None:
    assert spans([1, 100, 100, 80, 100, 100, 1]) == [(1, 5)]
    assert spans([1, 100, 100, 80, 100, 100, 1], split=0.85) == [(1, 2), (4, 5)]


def test_hysteresis_keeps_a_run_through_a_dip_between_exit_and_enter() -> None:
    # enter at 20, exit at 10: 15 neither starts nor ends a run
    values = [0, 100, 15, 100, 0, 15, 0]
    assert spans(values, split=0.1) == [(1, 3)]
    assert spans(values, split=0.1, exit=0.16) == [(1, 1), (3, 3)]


def test_core_trims_ramps_of_a_phase() -> None:
    assert spans([1, 30, 100, 100, 30, 1]) == [(2, 3)]
    assert spans([1, 30, 100, 100, 30, 1], core=0.2) == [(1, 4)]


def test_min_length_and_merge_gap() -> None:
    values = [0, 100, 0, 0, 100, 100, 0]
    assert spans(values) == [(1, 1), (4, 5)]
    assert spans(values, min_length_ns=6 * S) == [(4, 5)]
    assert spans(values, merge_gap_ns=10 * S) == [(1, 5)]


def test_signal_choice() -> None:
    s = series([0, 0, 0, 0])
    s.wss[:] = [0, 100, 100, 0]
    s.access[:] = [0, 0, 100, 0]
    assert [(b.first, b.last) for b in find_bursts(s, BurstParams(signal="wss"))] == [(1, 2)]
    assert [(b.first, b.last) for b in find_bursts(s, BurstParams(signal="access"))] == [(2, 2)]


def _top_function(conv, burst, candidates: set[str]) -> str:  # type: ignore[no-untyped-def]
    samples = conv.samples
    frames = samples.table.frames
    inside = (samples.time_ns >= burst.start_ns) & (samples.time_ns < burst.end_ns)
    counts: dict[str, int] = {}
    for stack in samples.stack[inside].tolist():
        seen = {frames[f].name for f in samples.table.stacks[stack]} & candidates
        for name in seen:
            counts[name] = counts.get(name, 0) + 1
    return max(counts, key=lambda n: counts[n])


def test_fftlike_bursts_are_the_workloads_phases() -> None:
    """fftlike 10: idle 5 s, FFT 10 s, idle 5 s, FFT 10 s, idle 5 s, Transpose 10 s, idle 5 s.

    DAMON aggregates every 5.12 s, so each 10 s phase covers about two intervals. Bursts 1 and 2
    must be the FFT passes (butterfly(), called only by FFT1DOnce) and burst 3 the transposes;
    the initial memset (interval 0) ramps up to burst 1 but is below half its peak, so the core
    rule leaves it out, and the idle gaps between phases are the valleys that split them.
    """
    conv = convert_files(GOLDEN / "fftlike" / "damon.perf_script.txt",
                         GOLDEN / "fftlike" / "perf.script.txt")
    assert [(b.first, b.last) for b in conv.bursts] == [(1, 2), (4, 5), (8, 9)]
    names = {"butterfly", "Transpose", "idle", "__memset_avx512_unaligned_erms"}
    assert [_top_function(conv, b, names) for b in conv.bursts] == [
        "butterfly", "butterfly", "Transpose"]


def test_mtphases_bursts_follow_each_thread() -> None:
    """mtphases 5 (three threads): both workers memset their buffers, the streamer sweeps
    384 MiB for 10 s, then the chaser reads 192 MiB at random for 10 s (see mtphases.c).
    Burst 1 is the memset, burst 2 the sweep (stream_pass), burst 3 the random reads (chase).
    """
    conv = convert_files(GOLDEN / "mtphases" / "damon.perf_script.txt",
                         GOLDEN / "mtphases" / "perf.script.txt")
    assert len(conv.bursts) == 3
    names = {"stream_pass", "chase", "spin_small", "__memset_avx512_unaligned_erms"}
    tops = [_top_function(conv, b, names) for b in conv.bursts]
    assert tops[1:] == ["stream_pass", "chase"]


@pytest.mark.parametrize("signal", ["access", "wss"])
def test_fftlike_finds_three_bursts_with_either_signal(signal: str) -> None:
    conv = convert_files(GOLDEN / "fftlike" / "damon.json_compressed",
                         GOLDEN / "fftlike" / "perf.script.txt",
                         bursts=BurstParams(signal=signal))
    assert len(conv.bursts) == 3
