"""Memory bursts: phases of heavy memory access, found on the per-interval series.

Algorithm (every constant is a :class:`BurstParams` field and a CLI flag):

1. signal: per interval, ``access`` (Σ size × nr_accesses, default) or ``wss``;
2. baseline: the ``baseline_percentile`` of the signal; range = max − baseline;
3. threshold with hysteresis: a candidate run starts where the signal reaches
   baseline + ``enter`` × range and goes on while it stays ≥ baseline + ``exit`` × range;
4. valleys split runs: an interval whose signal is ≤ ``split`` × the lower of the highest
   peaks on its two sides (within the run) separates two phases and belongs to neither; the
   deepest valley splits first, then each side again;
5. core: each phase drops its leading and trailing intervals below ``core`` × its peak, so
   a burst does not swallow the ramps into and out of it;
6. phases closer than ``merge_gap_ns`` are merged, and phases shorter than ``min_length_ns``
   are dropped.

Intervals are as long as DAMON's aggregation interval, so phases shorter than about two
intervals cannot be told apart: that is the resolution the recording has.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .wss import IntervalSeries

SIGNALS = ("access", "wss")


@dataclass(frozen=True)
class BurstParams:
    signal: str = "access"
    baseline_percentile: float = 10.0
    enter: float = 0.2
    exit: float = 0.1
    split: float = 0.6
    core: float = 0.5
    min_length_ns: int = 0
    merge_gap_ns: int = 0


@dataclass(frozen=True)
class Burst:
    """Intervals ``first..last`` (inclusive) of the series; 1-based ``number`` for names."""

    number: int
    first: int
    last: int
    start_ns: int
    end_ns: int
    peak_wss: int


def _runs(signal: np.ndarray, enter: float, exit_: float) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for i, value in enumerate(signal.tolist()):
        if start is None:
            if value >= enter:
                start = i
        elif value < exit_:
            runs.append((start, i - 1))
            start = None
    if start is not None:
        runs.append((start, len(signal) - 1))
    return runs


def _split(signal: np.ndarray, lo: int, hi: int, ratio: float) -> list[tuple[int, int]]:
    """Split ``lo..hi`` at its deepest qualifying valley, recursively (iteratively)."""
    out: list[tuple[int, int]] = []
    todo = [(lo, hi)]
    while todo:
        a, b = todo.pop()
        best: tuple[float, int] | None = None
        for v in range(a + 1, b):
            left = float(signal[a:v].max())
            right = float(signal[v + 1 : b + 1].max())
            ref = min(left, right)
            if ref <= 0:
                continue
            depth = float(signal[v]) / ref
            if depth <= ratio and (best is None or depth < best[0]):
                best = (depth, v)
        if best is None:
            out.append((a, b))
        else:
            todo.append((best[1] + 1, b))
            todo.append((a, best[1] - 1))
    return sorted(out)


def _core(signal: np.ndarray, a: int, b: int, frac: float) -> tuple[int, int]:
    """Drop leading and trailing intervals below ``frac`` × the phase's peak (its ramps)."""
    limit = frac * float(signal[a : b + 1].max())
    keep = np.flatnonzero(signal[a : b + 1] >= limit)
    return a + int(keep[0]), a + int(keep[-1])


def find_bursts(series: IntervalSeries, params: BurstParams | None = None) -> list[Burst]:
    params = params or BurstParams()
    if len(series) == 0:
        return []
    signal = (series.access if params.signal == "access" else series.wss).astype(np.float64)
    baseline = float(np.percentile(signal, params.baseline_percentile))
    span = float(signal.max()) - baseline
    if span <= 0:
        return []
    phases: list[tuple[int, int]] = []
    for a, b in _runs(signal, baseline + params.enter * span, baseline + params.exit * span):
        for c, d in _split(signal, a, b, params.split):
            phases.append(_core(signal, c, d, params.core))
    merged: list[tuple[int, int]] = []
    for a, b in phases:
        if merged and series.start_ns[a] - series.end_ns[merged[-1][1]] <= params.merge_gap_ns \
                and params.merge_gap_ns > 0:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    bursts: list[Burst] = []
    for a, b in merged:
        start, end = int(series.start_ns[a]), int(series.end_ns[b])
        if end - start < params.min_length_ns:
            continue
        peak = int(series.wss[a : b + 1].max())
        bursts.append(Burst(len(bursts) + 1, a, b, start, end, peak))
    return bursts
